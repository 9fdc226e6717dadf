package llm

import (
	"context"
	"flag"
	"log/slog"
	"time"
)

// Flags are the model flags of `rehearsal run|render` and of the steps that
// may ask a model: --model and --model-budget.
type Flags struct {
	Model  string
	Budget time.Duration
}

// Register adds the flags to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Model, "model", DefaultModel, "Gemini model `name`; used only when GEMINI_API_KEY, GOOGLE_API_KEY or Vertex AI settings are set")
	fs.DurationVar(&f.Budget, "model-budget", DefaultBudget, "total `time` the run's model calls may take, retries included")
}

// Open returns a client when getenv configures a model (see Configured) and
// nil otherwise. A model that cannot be set up is logged and left out: a
// model is never required.
func (f *Flags) Open(ctx context.Context, getenv func(string) string, log *slog.Logger) Client {
	if !Configured(getenv) {
		return nil
	}
	g, err := New(ctx, Options{Model: f.Model, Budget: f.Budget, CallTimeout: min(DefaultCallTimeout, f.Budget), Log: log})
	if err != nil {
		log.Warn("model not used", "error", err.Error())
		return nil
	}
	log.Info("model configured", "model", g.Model(), "budget", g.opts.Budget.String())
	return g
}
