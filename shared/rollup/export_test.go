package rollup

import "context"

// ApplyChanges applies one partner's changes of a shard as Handle does for
// a batch: the benchmarks load a day's earlier entries with it, from
// changes built directly rather than from stream records.
func (c *Consumer) ApplyChanges(ctx context.Context, shard, partner string, cs []Change) error {
	_, err := c.apply(ctx, shard, partner, cs)
	return err
}
