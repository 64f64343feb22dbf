package ir

import "testing"

func TestCheckedSize(t *testing.T) {
	const limit = 1 << 20
	tests := []struct {
		s    Shape
		want int
		ok   bool
	}{
		{Shape{}, 1, true},
		{Shape{1, 28, 28}, 784, true},
		{Shape{0, 5}, 0, true},
		{Shape{1 << 10, 1 << 10}, 1 << 20, true},
		{Shape{1 << 10, 1 << 10, 2}, 0, false},
		{Shape{3, -1}, 0, false},
		// The product wraps around to 784 in int64 arithmetic.
		{Shape{10, 1 << 62, 4, 784}, 0, false},
		// An empty shape must not hide a huge dimension.
		{Shape{0, 1 << 40}, 0, false},
		{Shape{1 << 40, 0}, 0, false},
	}
	for _, tt := range tests {
		got, err := tt.s.CheckedSize(limit)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("%v.CheckedSize(%d) = %d, %v; want %d, ok %v", tt.s, limit, got, err, tt.want, tt.ok)
		}
	}
}
