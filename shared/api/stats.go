package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/accrue/accrue/shared/rollup"
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
	out := list[dayStats]{Data: make([]dayStats, len(days))}
	for i, d := range days {
		l, err := rollup.ReportedLiability(d.Liability)
		if err != nil {
			return result{}, fmt.Errorf("stats of %s, %s: %w", c.principal.PartnerID, d.Day, err)
		}
		out.Data[i] = dayStats{DayStats: d, Liability: l}
	}
	return result{http.StatusOK, out}, nil
}

// dayStats is a day of GET /v1/stats: the stored figures, with the liability
// in whole minor units (rollup.ReportedLiability) in place of the exact
// decimal the roll-up stores.
type dayStats struct {
	store.DayStats
	Liability int64 `json:"liability_minor"` // shadows DayStats.Liability
}
