package api

import (
	"context"
	"net/http"
	"time"

	"github.com/accrue/accrue/shared/store"
)

// StatsStore is what GET /v1/stats reads.
type StatsStore interface {
	Stats(ctx context.Context, partner, from, to string) ([]store.DayStats, error)
}

// MaxStatsDays bounds one GET /v1/stats.
const MaxStatsDays = 366

func (s *server) getStats(ctx context.Context, c *call) (result, error) {
	q := c.r.URL.Query()
	from, err := time.Parse(time.DateOnly, q.Get("from"))
	if err != nil {
		return result{}, invalid("from", "required: a YYYY-MM-DD date")
	}
	to, err := time.Parse(time.DateOnly, q.Get("to"))
	if err != nil {
		return result{}, invalid("to", "required: a YYYY-MM-DD date")
	}
	if to.Before(from) || to.Sub(from) > MaxStatsDays*24*time.Hour {
		return result{}, invalid("to", "on or after from, at most 366 days later")
	}
	days, err := s.Store.Stats(ctx, c.principal.PartnerID, from.Format(time.DateOnly), to.Format(time.DateOnly))
	if err != nil {
		return result{}, err
	}
	return result{http.StatusOK, list[store.DayStats]{Data: days}}, nil
}
