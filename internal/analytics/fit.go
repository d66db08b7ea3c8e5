package analytics

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"gonum.org/v1/gonum/diff/fd"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// FitReport says how a maximum-likelihood fit went. A returned fit always
// converged to a strict maximum: the fits refuse one that did not
// (NotConvergedError), so a stored model is never a half-finished
// optimisation or a parameter running off to infinity.
type FitReport struct {
	// LogLikelihood is the log-likelihood at the estimate, summed over
	// the customers.
	LogLikelihood float64 `json:"log_likelihood"`
	// Customers is the number of customers the fit used.
	Customers int `json:"customers"`
	// Groups is the number of distinct customer summaries the likelihood
	// was summed over (identical summaries are counted once, weighted).
	Groups int `json:"groups"`
	// Status is the optimiser's termination status (gonum optimize).
	Status string `json:"status"`
	// Iterations and Evaluations count the optimiser's major iterations
	// and likelihood evaluations.
	Iterations  int `json:"iterations"`
	Evaluations int `json:"evaluations"`
	// GradientNorm is the largest absolute gradient component of the mean
	// log-likelihood per customer in log-parameters at the estimate; the
	// fit is accepted only when it is at most MaxGradientNorm.
	GradientNorm float64 `json:"gradient_norm"`
}

// MaxGradientNorm is the largest GradientNorm a fit is accepted with. At
// this size, moving any log-parameter by a standard error (~0.1 on a few
// thousand customers, less on more) changes the total log-likelihood by far
// less than one unit, so the estimate is the optimum to well within its
// sampling error.
const MaxGradientNorm = 1e-6

// NotConvergedError is the refusal of a fit that did not end at a strict
// maximum of the likelihood.
type NotConvergedError struct {
	Model        string // "bgnbd" or "gammagamma"
	Reason       string
	Status       string
	Iterations   int
	GradientNorm float64
	Params       []float64
}

func (e *NotConvergedError) Error() string {
	return fmt.Sprintf("%s fit refused: %s (optimiser status %s after %d iterations, gradient norm %.3g, parameters %.4g); the data may not identify the model (too few repeat buyers, no sign of dropout, or too short a calibration period)",
		e.Model, e.Reason, e.Status, e.Iterations, e.GradientNorm, e.Params)
}

// FitOptions tune the fitting machinery, not the model.
type FitOptions struct {
	// Workers is the number of goroutines the likelihood is summed on;
	// 0 means runtime.GOMAXPROCS(0).
	Workers int
}

func (o FitOptions) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// logLikFunc is a model's total log-likelihood at natural (positive)
// parameters p; when grad is not nil it also stores ∂LL/∂p there.
type logLikFunc func(p, grad []float64) float64

// mle is a maximum-likelihood estimate and how it was found.
type mle struct {
	params []float64
	stdErr []float64
	report FitReport
}

// maximise maximises ll over positive parameters, starting at start, by
// BFGS on log-parameters (so every step stays positive) with the model's
// analytic gradient. The objective is the mean log-likelihood per customer,
// so one convergence threshold suits any cohort size. The estimate is
// accepted when the gradient has vanished (MaxGradientNorm) and the Hessian
// of −LL is positive definite there — a strict maximum; without the second
// test a parameter drifting to infinity along a flat ridge (b → ∞ when no
// customer shows dropout) would pass, since the gradient fades too. Standard
// errors come from the same observed information: the Hessian, by central
// differences of the analytic gradient in log-parameters, inverted through
// its Cholesky factor (log-parameter errors become parameter errors by the
// delta method, exact at a stationary point).
func maximise(model string, ll logLikFunc, start []float64, customers int) (mle, error) {
	dim := len(start)
	n := float64(customers)
	toNatural := func(theta []float64) []float64 {
		p := make([]float64, dim)
		for i, t := range theta {
			p[i] = math.Exp(t)
		}
		return p
	}
	// gonum asks for the value and the gradient at the same point in
	// separate calls; one likelihood pass gives both.
	var (
		lastTheta []float64
		lastF     float64
		lastGrad  = make([]float64, dim)
		evals     int
	)
	eval := func(theta []float64) {
		if slices.Equal(theta, lastTheta) {
			return
		}
		evals++
		p := toNatural(theta)
		g := make([]float64, dim)
		f := ll(p, g)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			// Out of the region the likelihood can be evaluated in
			// (a parameter overflowed): let the line search back off.
			lastF = math.Inf(1)
			for i := range lastGrad {
				lastGrad[i] = math.NaN()
			}
		} else {
			lastF = -f / n
			for i := range g {
				lastGrad[i] = -g[i] * p[i] / n
			}
		}
		lastTheta = append(lastTheta[:0], theta...)
	}
	problem := optimize.Problem{
		Func: func(theta []float64) float64 { eval(theta); return lastF },
		Grad: func(grad, theta []float64) { eval(theta); copy(grad, lastGrad) },
	}
	theta0 := make([]float64, dim)
	for i, s := range start {
		theta0[i] = math.Log(s)
	}
	settings := &optimize.Settings{
		GradientThreshold: MaxGradientNorm / 10,
		Converger:         &optimize.FunctionConverge{Absolute: 1e-15, Iterations: 50},
		MajorIterations:   2000,
	}
	res, err := optimize.Minimize(problem, theta0, settings, &optimize.BFGS{})
	if res == nil {
		return mle{}, fmt.Errorf("%s fit: %w", model, err)
	}
	status := res.Status.String()
	if err != nil {
		status += " (" + err.Error() + ")"
	}
	// Judge by the gradient itself, not the status: a line search that
	// stalls ends with a "converged" status wherever it is, and one that
	// starts at the optimum fails for want of a decrease the float64 sum
	// can show.
	eval(res.X)
	gradNorm := 0.0
	for _, g := range lastGrad {
		gradNorm = math.Max(gradNorm, math.Abs(g))
	}
	params := toNatural(res.X)
	refuse := func(reason string) error {
		return &NotConvergedError{Model: model, Reason: reason, Status: status, Iterations: res.Stats.MajorIterations, GradientNorm: gradNorm, Params: params}
	}
	if math.IsNaN(gradNorm) || gradNorm > MaxGradientNorm {
		return mle{}, refuse(fmt.Sprintf("the gradient did not vanish (%.3g > %g)", gradNorm, MaxGradientNorm))
	}
	se, err := stdErrors(ll, res.X)
	if err != nil {
		return mle{}, refuse(err.Error())
	}
	return mle{
		params: params,
		stdErr: se,
		report: FitReport{
			LogLikelihood: ll(params, nil),
			Customers:     customers,
			Status:        status,
			Iterations:    res.Stats.MajorIterations,
			Evaluations:   evals,
			GradientNorm:  gradNorm,
		},
	}, nil
}

// stdErrors are the standard errors of the natural parameters at the
// log-parameter optimum theta.
func stdErrors(ll logLikFunc, theta []float64) ([]float64, error) {
	dim := len(theta)
	// ∂(−LL)/∂θ; its Jacobian is the Hessian of −LL in log-parameters.
	negGrad := func(y, th []float64) {
		p := make([]float64, dim)
		for i, t := range th {
			p[i] = math.Exp(t)
		}
		g := make([]float64, dim)
		ll(p, g)
		for i := range g {
			y[i] = -g[i] * p[i]
		}
	}
	jac := mat.NewDense(dim, dim, nil)
	fd.Jacobian(jac, negGrad, theta, &fd.JacobianSettings{Formula: fd.Central})
	hess := mat.NewSymDense(dim, nil)
	for i := 0; i < dim; i++ {
		for j := i; j < dim; j++ {
			hess.SetSym(i, j, (jac.At(i, j)+jac.At(j, i))/2)
		}
	}
	var chol mat.Cholesky
	if !chol.Factorize(hess) {
		return nil, errors.New("the likelihood has no strict maximum there (its Hessian is not positive definite), as when a parameter runs off to infinity")
	}
	var cov mat.SymDense
	if err := chol.InverseTo(&cov); err != nil {
		return nil, fmt.Errorf("invert the Hessian: %w", err)
	}
	se := make([]float64, dim)
	for i := range se {
		se[i] = math.Exp(theta[i]) * math.Sqrt(cov.At(i, i))
	}
	return se, nil
}

// term is one term of a log-likelihood sum: its value and its weight (the
// customers it stands for); with grad not nil it adds its gradient there.
type term func(i int, grad []float64) (value, weight float64)

// sumLogLik sums a likelihood that, per customer, splits into a term per
// distinct summary (perGroup, the bulk, summed in parallel) and a term that
// depends on x alone (perX, one per distinct x: the Γ functions). With grad
// not nil (its length is the number of parameters) it also stores the
// gradient there.
func sumLogLik(grad []float64, workers int, groups int, perGroup term, xs int, perX term) float64 {
	dim := len(grad)
	acc := parallelSum(groups, workers, 1+dim, func(lo, hi int, acc []float64) {
		addTerms(perGroup, lo, hi, acc, dim)
	})
	tail := make([]float64, 1+dim)
	addTerms(perX, 0, xs, tail, dim)
	for i := range acc {
		acc[i] += tail[i]
	}
	copy(grad, acc[1:])
	return acc[0]
}

// addTerms adds the weighted terms lo..hi-1 to acc: the value to acc[0],
// the gradient (dim > 0) to acc[1:].
func addTerms(t term, lo, hi int, acc []float64, dim int) {
	var g []float64
	if dim > 0 {
		g = make([]float64, dim)
	}
	for i := lo; i < hi; i++ {
		clear(g)
		v, w := t(i, g)
		acc[0] += w * v
		for k, gk := range g {
			acc[1+k] += w * gk
		}
	}
}

// sumChunk is how many groups one goroutine sums at a time. The chunks and
// the order their sums are added in do not depend on the number of
// workers, so a fit is bit-for-bit the same on any machine.
const sumChunk = 2048

// parallelSum sums fn over [0, n) in chunks on up to workers goroutines:
// fn(lo, hi, acc) adds the terms of groups lo..hi-1 into acc (width values).
func parallelSum(n, workers, width int, fn func(lo, hi int, acc []float64)) []float64 {
	chunks := (n + sumChunk - 1) / sumChunk
	partial := make([]float64, chunks*width)
	if workers > chunks {
		workers = chunks
	}
	if workers <= 1 {
		for c := 0; c < chunks; c++ {
			fn(c*sumChunk, min(n, (c+1)*sumChunk), partial[c*width:(c+1)*width])
		}
	} else {
		var wg sync.WaitGroup
		next := make(chan int, chunks)
		for c := 0; c < chunks; c++ {
			next <- c
		}
		close(next)
		for w := 0; w < workers; w++ {
			wg.Go(func() {
				for c := range next {
					fn(c*sumChunk, min(n, (c+1)*sumChunk), partial[c*width:(c+1)*width])
				}
			})
		}
		wg.Wait()
	}
	total := make([]float64, width)
	for c := 0; c < chunks; c++ {
		for i := range total {
			total[i] += partial[c*width+i]
		}
	}
	return total
}
