package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPhaseCostString(t *testing.T) {
	c := PhaseCost{Blocks: 100, Cores: 2,
		Read:    PhaseTime{CPU: time.Second, Wall: time.Second},
		Prepare: PhaseTime{CPU: 4 * time.Second, Wall: 2 * time.Second},
		Commit:  PhaseTime{CPU: 5 * time.Second, Wall: 3 * time.Second}}
	require.Equal(t, `100 blocks, stages run one after the other on 2 cores:
  read source                CPU 10ms      per block (wall 1s)
  replay tries               CPU 40ms      per block (wall 2s)
  write (flush, compaction)  CPU 50ms      per block (wall 3s)
  ceiling with every core busy: 20.0 blocks/s (writing alone 40.0, replay alone 50.0)`, c.String())
	require.Zero(t, PhaseCost{Cores: 2}.Ceiling(PhaseTime{}))
}
