// Package metrics writes CloudWatch metrics as Embedded Metric Format (EMF) log
// lines: Lambda's log stream turns them into metrics with no API call and no
// added latency. Locally the lines are just JSON on the writer.
package metrics

import (
	"encoding/json"
	"io"
	"slices"
	"sync"
	"time"
)

// Namespace of all Accrue metrics.
const Namespace = "Accrue"

// EMF writes metrics to w (os.Stdout in Lambda).
type EMF struct {
	mu sync.Mutex
	w  io.Writer
}

// New returns an EMF writer on w.
func New(w io.Writer) *EMF { return &EMF{w: w} }

// Count records value for metric name with the given dimensions (a count unit),
// as one dimension set of all of them. Keep each dimension's values a small
// fixed set: every combination is a CloudWatch metric of its own.
// Errors writing the log line are ignored: a metric must never fail a request.
func (e *EMF) Count(name string, value int64, dims map[string]string) {
	if e == nil || e.w == nil {
		return
	}
	keys := make([]string, 0, len(dims))
	doc := map[string]any{}
	for k, v := range dims {
		keys = append(keys, k)
		doc[k] = v
	}
	slices.Sort(keys) // one dimension set per metric, whatever the map's order
	doc[name] = value
	doc["_aws"] = map[string]any{
		"Timestamp": time.Now().UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  Namespace,
			"Dimensions": [][]string{keys},
			"Metrics":    []any{map[string]string{"Name": name, "Unit": "Count"}},
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(append(b, '\n'))
}
