package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLatencyCDF(t *testing.T) {
	samples := []time.Duration{3 * time.Millisecond, 0, time.Millisecond, 2 * time.Millisecond}
	xy := latencyCDF(samples)
	require.Equal(t, []time.Duration{3 * time.Millisecond, 0, time.Millisecond, 2 * time.Millisecond}, samples, "not reordered")
	// Every sample (fewer than 500), then the maximum again at 1; a zero
	// latency is floored for the log axis.
	require.Len(t, xy, 5)
	require.Equal(t, 0.001, xy[0].X)
	require.Equal(t, 0.25, xy[0].Y)
	require.Equal(t, 3.0, xy[3].X)
	require.Equal(t, 1.0, xy[3].Y)
	require.Equal(t, 3.0, xy[4].X)
	require.Equal(t, 1.0, xy[4].Y)

	// 2,000 samples are thinned to one point in four, plus the maximum.
	many := make([]time.Duration, 2000)
	for i := range many {
		many[i] = time.Duration(i+1) * time.Microsecond
	}
	xy = latencyCDF(many)
	require.Len(t, xy, 501)
	require.Equal(t, 2.0, xy[500].X)
}
