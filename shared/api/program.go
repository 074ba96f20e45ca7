package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
)

// ProgramStore is what the program and reward routes use of the store.
type ProgramStore interface {
	Program(ctx context.Context, partner string) (*program.Program, error)
	PutProgram(ctx context.Context, partner string, p *program.Program) (int64, error)
	Rewards(ctx context.Context, partner string) ([]ledger.Reward, error)
	PutRewards(ctx context.Context, partner string, rewards []ledger.Reward) ([]ledger.Reward, error)
}

func (s *server) getProgram(ctx context.Context, c *call) (result, error) {
	p, err := s.Store.Program(ctx, c.principal.PartnerID)
	if err != nil {
		return result{}, err
	}
	return result{http.StatusOK, p}, nil
}

// putProgram replaces the program. The body is the program JSON (§5); its
// "version", if given, is ignored: the store assigns the next one.
func (s *server) putProgram(ctx context.Context, c *call) (result, error) {
	p, err := program.Parse(c.body)
	if err != nil {
		return result{}, programError(err)
	}
	v, err := s.Store.PutProgram(ctx, c.principal.PartnerID, p)
	if err != nil {
		return result{}, err
	}
	p.Version = v
	return result{http.StatusOK, p}, nil
}

// programError turns a parse error that is not a validation error (bad JSON,
// too large) into the matching problem.
func programError(err error) error {
	var ve *program.ValidationError
	if errors.As(err, &ve) {
		return err
	}
	if errors.Is(err, program.ErrTooLarge) {
		return problem(probTooLarge, err.Error())
	}
	return &apiError{kind: probMalformed, detail: err.Error(), err: err}
}

func (s *server) getRewards(ctx context.Context, c *call) (result, error) {
	rs, err := s.Store.Rewards(ctx, c.principal.PartnerID)
	if err != nil {
		return result{}, err
	}
	return result{http.StatusOK, list[ledger.Reward]{Data: rs}}, nil
}

type rewardsRequest struct {
	Rewards []ledger.Reward `json:"rewards"`
}

func (s *server) putRewards(ctx context.Context, c *call) (result, error) {
	var req rewardsRequest
	if err := decodeStrict(c.body, &req); err != nil {
		return result{}, err
	}
	if req.Rewards == nil {
		return result{}, invalid("rewards", "required: the whole catalog (an empty list removes every reward)")
	}
	p, err := s.Store.Program(ctx, c.principal.PartnerID)
	if err != nil {
		return result{}, err
	}
	seen := map[string]bool{}
	for i, r := range req.Rewards {
		f := "rewards[" + itoa(i) + "]"
		switch {
		case !idCatalog.valid(r.ID):
			return result{}, invalid(f+".id", idCatalog.what)
		case seen[r.ID]:
			return result{}, invalid(f+".id", "duplicate id")
		case r.Name == "" || len(r.Name) > 200:
			return result{}, invalid(f+".name", "required, at most 200 characters")
		case r.Cost <= 0 || r.Cost > 100_000_000:
			return result{}, invalid(f+".cost", "points, 1 to 100000000")
		case r.Stock != nil && *r.Stock < 0:
			return result{}, invalid(f+".stock", "0 or more; leave it out for unlimited stock")
		case r.MinTier != "" && p.TierIndex(r.MinTier) < 0:
			return result{}, invalid(f+".min_tier", "not a tier of the program")
		}
		seen[r.ID] = true
	}
	rs, err := s.Store.PutRewards(ctx, c.principal.PartnerID, req.Rewards)
	if err != nil {
		return result{}, err
	}
	return result{http.StatusOK, list[ledger.Reward]{Data: rs}}, nil
}

func itoa(i int) string { return strconv.Itoa(i) }
