package bench

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLoadProfileWith(t *testing.T) {
	const path = "../configs/profiles/base-like.yaml"
	file, err := LoadProfile(path)
	require.NoError(t, err)
	tests := []struct {
		name            string
		o               Overrides
		accounts, slots int
		gasPerSecond    uint64
	}{
		{"none", NoOverrides, file.Initial.Accounts, file.Initial.Slots, file.GasPerSecond},
		{"all", Overrides{InitialAccounts: 7, InitialSlots: 9, GasPerSecond: 1234}, 7, 9, 1234},
		{"zero state, the file's gas", Overrides{InitialAccounts: 0, InitialSlots: 0}, 0, 0, file.GasPerSecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := LoadProfileWith(path, tt.o)
			require.NoError(t, err)
			require.Equal(t, tt.accounts, p.Initial.Accounts)
			require.Equal(t, tt.slots, p.Initial.Slots)
			require.Equal(t, tt.gasPerSecond, p.GasPerSecond)
		})
	}
	_, err = LoadProfileWith("../configs/profiles/absent.yaml", NoOverrides)
	require.ErrorContains(t, err, "read profile")
}
