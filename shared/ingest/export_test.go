package ingest

import "log/slog"

// Lanes exposes lanes to the tests.
var Lanes = lanes

// Logger is the processor's logger.
func (p *Processor) Logger() *slog.Logger { return p.log }
