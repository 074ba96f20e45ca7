package rules

import "maps"

// cloneState deep-copies st so that Evaluate never writes into its caller's maps
// or slices. Empty collections become nil (omitted from the stored item).
func cloneState(st State) State {
	out := st
	out.Tags = cloneSlice(st.Tags)
	out.RecentEvents = cloneSlice(st.RecentEvents)
	out.Streaks = nil
	if len(st.Streaks) > 0 {
		out.Streaks = maps.Clone(st.Streaks)
	}
	out.Campaigns = nil
	if len(st.Campaigns) > 0 {
		out.Campaigns = maps.Clone(st.Campaigns)
	}
	out.Frequency = nil
	if len(st.Frequency) > 0 {
		out.Frequency = make(map[string][]int64, len(st.Frequency))
		for k, v := range st.Frequency {
			if len(v) > 0 {
				out.Frequency[k] = cloneSlice(v)
			}
		}
	}
	return out
}

func cloneSlice[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

// matchesList reports whether list is empty (matches everything) or holds v.
func matchesList(list []string, v string) bool {
	if len(list) == 0 {
		return true
	}
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// matchesAny reports whether list is empty or shares at least one value with have.
func matchesAny(list, have []string) bool {
	if len(list) == 0 {
		return true
	}
	for _, x := range list {
		for _, h := range have {
			if x == h {
				return true
			}
		}
	}
	return false
}
