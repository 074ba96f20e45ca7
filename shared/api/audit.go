package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/accrue/accrue/shared/store"
)

// AuditStore is what GET /v1/audit reads.
type AuditStore interface {
	AuditTrail(ctx context.Context, partner string, q store.AuditQuery) (store.Page[store.AuditRecord], error)
}

// listAudit is GET /v1/audit?from=&to=&member_id=&limit=&cursor=: the
// partner's audit trail (admin actions and transfers), newest first; with
// member_id, the records that concern that member (it must exist: another
// partner's member is not found).
func (s *server) listAudit(ctx context.Context, c *call) (result, error) {
	q := c.r.URL.Query()
	aq, err := auditQuery(q)
	if err != nil {
		return result{}, err
	}
	if aq.MemberID != "" {
		if _, err := s.Store.Member(ctx, c.principal.PartnerID, aq.MemberID); err != nil {
			return result{}, err
		}
	}
	page, err := s.Store.AuditTrail(ctx, c.principal.PartnerID, aq)
	if err != nil {
		return result{}, err
	}
	return result{http.StatusOK, list[store.AuditRecord]{Data: nonNil(page.Items), NextCursor: page.Next}}, nil
}

// auditQuery reads the query of GET /v1/audit: from and to (timeParam),
// member_id (a member id), limit and cursor (pageParams). Each bad one is a
// validation-error naming it.
func auditQuery(q url.Values) (store.AuditQuery, error) {
	var aq store.AuditQuery
	var err error
	if aq.From, err = timeParam(q, "from", false); err != nil {
		return aq, err
	}
	if aq.To, err = timeParam(q, "to", true); err != nil {
		return aq, err
	}
	if !aq.From.IsZero() && !aq.To.IsZero() && aq.To.Before(aq.From) {
		return aq, invalid("to", "must not be before from")
	}
	if q.Has("member_id") {
		if aq.MemberID, err = checkID("member_id", q.Get("member_id"), idMember); err != nil {
			return aq, err
		}
	}
	aq.Limit, aq.Cursor, err = pageValues(q)
	return aq, err
}

// timeParam reads query parameter name: an RFC 3339 time, or a date
// (YYYY-MM-DD, UTC) standing for its first instant, or with end for its
// last. Absent (or empty): the zero time, unbounded.
func timeParam(q url.Values, name string, end bool) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		if end {
			return d.AddDate(0, 0, 1).Add(-time.Nanosecond), nil
		}
		return d, nil
	}
	return time.Time{}, invalid(name, "an RFC 3339 time (2026-11-05T10:00:00Z) or a date (2026-11-05, UTC)")
}
