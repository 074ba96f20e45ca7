package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/accrue/accrue/shared/program"
)

// A partner's program: one item (partnerPK | PROGRAM) with the program JSON
// and its version; the partner exists iff it does. Each process caches a
// partner's program for the program cache TTL.

type programItem struct {
	PartnerID string    `dynamodbav:"partner"`
	Program   string    `dynamodbav:"program"` // the program JSON
	Version   int64     `dynamodbav:"ver"`
	UpdatedAt time.Time `dynamodbav:"updated"`
}

// PutProgram stores a validated program for partner (creating the partner) and
// returns its new version. The version only grows. The audit record of the
// change (program.update: the version and every section that changed, before
// and after) is written in the same transaction, naming the actor of ctx
// (WithActor).
func (s *Store) PutProgram(ctx context.Context, partner string, p *program.Program) (int64, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	registered := false
	var version int64
	err := s.retry(ctx, "put program of "+partner, func() error {
		var cur programItem
		found, err := s.getItem(ctx, partnerPK(partner), skProgram, &cur)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		q := *p
		q.Version = cur.Version + 1
		body, err := marshalProgram(&q)
		if err != nil {
			return err
		}
		it := programItem{PartnerID: partner, Program: body, Version: q.Version, UpdatedAt: now}
		t := s.newTxn()
		if found {
			// A partner created before the partner registry existed joins
			// it now (put only if absent; see registry.go).
			if !registered {
				if err := s.registerPartner(ctx, partner, now); err != nil {
					return err
				}
				registered = true
			}
			err = t.replace(it, partnerPK(partner), skProgram, cur.Version)
		} else {
			// A new partner: its program and its registry entry in one transaction.
			if err = t.putNew(it, partnerPK(partner), skProgram); err == nil {
				err = t.put(PartnerRecord{PartnerID: partner, CreatedAt: now}, registryPK, partner)
			}
		}
		if err == nil {
			err = t.audit(partner, programAudit(ctx, now, cur.Program, body))
		}
		if err == nil {
			err = t.commit(ctx, Written{})
		}
		version = q.Version
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("put program of %s: %w", partner, err)
	}
	s.mu.Lock()
	delete(s.programs, partner)
	s.mu.Unlock()
	return version, nil
}

// Program returns partner's program (cached for the program cache TTL).
func (s *Store) Program(ctx context.Context, partner string) (*program.Program, error) {
	now := s.now()
	s.mu.Lock()
	c, ok := s.programs[partner]
	s.mu.Unlock()
	if ok && now.Sub(c.at) < s.programTTL {
		return c.p, nil
	}
	var it programItem
	found, err := s.getItem(ctx, partnerPK(partner), skProgram, &it)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("partner %q: %w", partner, ErrUnknownPartner)
	}
	p, err := program.Parse([]byte(it.Program))
	if err != nil {
		return nil, fmt.Errorf("stored program of %s: %w", partner, err)
	}
	p.Version = it.Version
	if s.programTTL > 0 {
		s.mu.Lock()
		s.programs[partner] = cachedProgram{p: p, at: now}
		s.mu.Unlock()
	}
	return p, nil
}

// programAudit is the audit record of a program change from the stored
// program JSON before ("" for a new partner) to after: its top-level fields
// that changed, the version among them.
func programAudit(ctx context.Context, at time.Time, before, after string) AuditRecord {
	rec := AuditRecord{At: at, Actor: ActorFrom(ctx), Action: AuditProgramUpdate, Target: "program"}
	changes, err := objectChanges("", []byte(before), []byte(after))
	if err != nil {
		// A stored program that is not a JSON object cannot be parsed
		// either: say so rather than fail the change that replaces it.
		changes = []AuditChange{{Field: "", Truncated: true}}
	}
	rec.Changes = changes
	return rec
}

func marshalProgram(p *program.Program) (string, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("marshal program: %w", err)
	}
	return string(b), nil
}
