package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/memberflow/memberflow/internal/analytics"
)

// analyticsUsage is the help of `memberflow analytics`.
const analyticsUsage = `usage:
  memberflow analytics fit --transactions FILE --format cdnow|csv --calibration-end YYYY-MM-DD [--period week|day]
      fit BG/NBD and Gamma-Gamma to a transaction file outside the store, on the
      transactions on or before the calibration end, with time in weeks (default)
      or days; prints the two fitted models on stdout, customers, convergence and
      standard errors on stderr. cdnow: customer id, sample id, YYYYMMDD, quantity,
      amount, whitespace-separated; csv: customer_id,date,amount (date YYYY-MM-DD,
      optional header line)
`

// analyticsCmd runs `memberflow analytics fit …`.
func analyticsCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, analyticsUsage)
		return errors.New("analytics needs a subcommand: fit")
	}
	switch args[0] {
	case "fit":
		return analyticsFit(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, analyticsUsage)
		return nil
	}
	fmt.Fprint(stderr, analyticsUsage)
	return fmt.Errorf("unknown analytics subcommand %q", args[0])
}

// analyticsFitOptions are `memberflow analytics fit`'s flags, checked.
type analyticsFitOptions struct {
	Transactions   string
	Format         analytics.Format
	CalibrationEnd analytics.Day
	Period         analytics.Period
}

func parseAnalyticsFitFlags(args []string, stderr io.Writer) (analyticsFitOptions, error) {
	fs := flag.NewFlagSet("analytics fit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("transactions", "", "transaction file to fit")
	format := fs.String("format", "", "layout of the file: cdnow or csv")
	end := fs.String("calibration-end", "", "last day (YYYY-MM-DD) whose transactions the fit uses")
	period := fs.String("period", string(analytics.PeriodWeek), "time unit of recency and age: week or day")
	if err := fs.Parse(args); err != nil {
		return analyticsFitOptions{}, err
	}
	if fs.NArg() != 0 {
		return analyticsFitOptions{}, fmt.Errorf("analytics fit takes flags only, got %q", fs.Args())
	}
	var opts analyticsFitOptions
	if *file == "" {
		return opts, errors.New("analytics fit needs --transactions FILE")
	}
	opts.Transactions = *file
	var err error
	if *format == "" {
		return opts, errors.New("analytics fit needs --format cdnow or csv")
	}
	if opts.Format, err = analytics.ParseFormat(*format); err != nil {
		return opts, fmt.Errorf("--format: %w", err)
	}
	if *end == "" {
		return opts, errors.New("analytics fit needs --calibration-end YYYY-MM-DD")
	}
	if opts.CalibrationEnd, err = analytics.ParseDay(*end); err != nil {
		return opts, fmt.Errorf("--calibration-end: %w", err)
	}
	if opts.Period, err = analytics.ParsePeriod(*period); err != nil {
		return opts, fmt.Errorf("--period: %w", err)
	}
	return opts, nil
}

// analyticsFit fits both models to a transaction file and prints them:
// on stdout exactly the two lines the contract names, on stderr
// what the fit rests on.
func analyticsFit(args []string, stdout, stderr io.Writer) error {
	opts, err := parseAnalyticsFitFlags(args, stderr)
	if err != nil {
		return err
	}
	f, err := os.Open(opts.Transactions)
	if err != nil {
		return fmt.Errorf("--transactions: %w", err)
	}
	defer f.Close()
	customers, err := analytics.ReadTransactions(f, opts.Format)
	if err != nil {
		return fmt.Errorf("read transactions %s: %w", opts.Transactions, err)
	}
	summaries := analytics.SummariseAll(customers, opts.CalibrationEnd, opts.Period)
	if len(summaries) == 0 {
		return fmt.Errorf("no customer in %s bought on or before --calibration-end %s", opts.Transactions, opts.CalibrationEnd)
	}
	m, err := analytics.Fit(summaries, opts.CalibrationEnd, opts.Period, analytics.FitOptions{})
	if err != nil {
		return err
	}
	bg, gg := m.BGNBD, m.GammaGamma
	fmt.Fprintf(stdout, "bgnbd: r=%.6g alpha=%.6g a=%.6g b=%.6g ll=%.6f\n", bg.Params.R, bg.Params.Alpha, bg.Params.A, bg.Params.B, bg.Fit.LogLikelihood)
	fmt.Fprintf(stdout, "gammagamma: p=%.6g q=%.6g v=%.6g\n", gg.Params.P, gg.Params.Q, gg.Params.V)
	fmt.Fprintf(stderr, "bgnbd: %d customers (%d distinct summaries), %s after %d iterations, gradient %.2g; standard errors r=%.4g alpha=%.4g a=%.4g b=%.4g\n",
		bg.Fit.Customers, bg.Fit.Groups, bg.Fit.Status, bg.Fit.Iterations, bg.Fit.GradientNorm, bg.StdErr.R, bg.StdErr.Alpha, bg.StdErr.A, bg.StdErr.B)
	fmt.Fprintf(stderr, "gammagamma: %d customers with repeat transactions, ll=%.6f, %s after %d iterations, gradient %.2g; standard errors p=%.4g q=%.4g v=%.4g\n",
		gg.Fit.Customers, gg.Fit.LogLikelihood, gg.Fit.Status, gg.Fit.Iterations, gg.Fit.GradientNorm, gg.StdErr.P, gg.StdErr.Q, gg.StdErr.V)
	return nil
}
