package session

import (
	"context"
	"reflect"
	"testing"
	"time"

	"veil/mpc"
)

// TestSummary: wall time, the client's median, bytes per party, in all
// and per inference, rounds per inference and top-1 agreement.
func TestSummary(t *testing.T) {
	rep := func(p mpc.Party, sent []int64, rounds int, per ...time.Duration) *Report {
		return &Report{Party: p, PerInfer: per, Cost: mpc.Cost{Rounds: rounds}, Net: mpc.Stats{BytesSent: sent}}
	}
	r := &Result{
		Outputs: [][]float64{{0, 1}, {1, 0}},
		Reports: []*Report{
			rep(mpc.P0, []int64{0, 100, 50}, 10, 3*time.Millisecond, time.Millisecond),
			rep(mpc.P1, []int64{200, 0, 50}, 10),
			rep(mpc.P2, []int64{0, 0, 0}, 0),
		},
		Wall:      1500 * time.Millisecond,
		Malicious: true,
	}
	for _, c := range []struct {
		name  string
		clear [][]float64
		agree float64
	}{
		{"no cleartext", nil, 0},
		{"agree", [][]float64{{0, 2}, {2, 0}}, 1},
		{"one of two", [][]float64{{0, 2}, {0, 2}}, 0.5},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := Summary{WallS: 1.5, MsPerInference: 3, BytesSent: []int64{150, 250, 0}, BytesTotal: 400, BytesPerInfer: 200,
				Rounds: 10, RoundsPerInfer: 5, SecureAgreement: c.agree, Malicious: true}
			if got := r.Summary(c.clear); !reflect.DeepEqual(got, want) {
				t.Errorf("Summary =\n%+v, want\n%+v", got, want)
			}
		})
	}
}

// TestReportMedian: the median online time plus the offline time per
// inference, so that an offline phase one inference made for the others
// counts once, spread over all of them.
func TestReportMedian(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		d := make([]time.Duration, len(v))
		for i, x := range v {
			d[i] = time.Duration(x) * time.Millisecond
		}
		return d
	}
	for _, c := range []struct {
		name         string
		per, offline []time.Duration
		want         time.Duration
	}{
		{"none ran", nil, nil, 0},
		{"no offline phase", ms(5, 1, 3), nil, 3 * time.Millisecond},
		{"an offline phase each", ms(12, 11, 13), ms(9, 9, 9), 12 * time.Millisecond},
		{"one made for all", ms(40, 1, 2, 3), ms(36, 0, 0, 0), 12 * time.Millisecond}, // median online 3, offline 36/4
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &Report{PerInfer: c.per, Offline: c.offline}
			if got := r.Median(); got != c.want {
				t.Errorf("Median = %v, want %v", got, c.want)
			}
		})
	}
}

// TestLoopbackAramis: the parties of a loopback run under Aramis agree
// with the cleartext executor as they do without it, each party's host
// (Wrap) stands under its Aramis layer, and the frames cost bytes.
func TestLoopbackAramis(t *testing.T) {
	p, xs := lenetProgram(t)
	xs = xs[:2]
	seen := make([]mpc.Network, 3)
	opts := LoopbackOptions{Timeout: 10 * time.Second, Wrap: func(q mpc.Party, nw mpc.Network) (mpc.Network, error) {
		seen[q] = nw
		return nw, nil
	}}
	res, err := RunLoopbackAramis(context.Background(), p, xs, opts)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := RunLoopback(context.Background(), p, xs, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	clear := make([][]float64, len(xs))
	for i, x := range xs {
		if clear[i], err = p.Predict(x); err != nil {
			t.Fatal(err)
		}
	}
	if !res.Malicious || plain.Malicious || res.Wall <= 0 || len(res.Outputs) != len(xs) {
		t.Errorf("under Aramis: malicious %v, %d outputs, wall %v; without: malicious %v", res.Malicious, len(res.Outputs), res.Wall, plain.Malicious)
	}
	if a := res.Summary(clear).SecureAgreement; a != 1 {
		t.Errorf("under Aramis the secure top-1 agrees with the cleartext on %.0f%% of the inputs", 100*a)
	}
	for q, nw := range seen {
		if nw == nil {
			t.Errorf("the host of %s never saw its network", mpc.Party(q))
		}
	}
	// Aramis frames cost bytes: the secure run sends more.
	if a, b := res.Summary(nil).BytesTotal, plain.Summary(nil).BytesTotal; a <= b {
		t.Errorf("%d bytes under Aramis, %d without", a, b)
	}
}
