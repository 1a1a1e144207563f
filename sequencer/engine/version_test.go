package engine_test

import (
	"debug/buildinfo"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/sequencer/engine/opgethtest"
)

const goEthereum = "github.com/ethereum/go-ethereum"

// opGethReplace returns the module and version a go.mod replaces
// go-ethereum with.
func opGethReplace(t *testing.T, path string) (string, string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "replace"))
		if len(f) == 4 && f[0] == goEthereum && f[1] == "=>" {
			return f[2], f[3]
		}
	}
	t.Fatalf("%s does not replace %s", path, goEthereum)
	return "", ""
}

// TestOpGethVersion keeps the op-geth the tests run the one Strata builds
// on: tools/opgeth/go.mod pins the version go.mod replaces go-ethereum with,
// and the binary, if it says what it was built from, was built from it.
func TestOpGethVersion(t *testing.T) {
	root, err := opgethtest.RepoRoot()
	require.NoError(t, err)
	mod, version := opGethReplace(t, filepath.Join(root, "go.mod"))
	toolMod, toolVersion := opGethReplace(t, filepath.Join(root, "tools", "opgeth", "go.mod"))
	require.Equal(t, mod+" "+version, toolMod+" "+toolVersion, "tools/opgeth must build the op-geth go.mod uses")

	bin := opgethtest.Binary(t)
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Logf("%s has no Go build info (%v): cannot tell which op-geth it is", bin, err)
		return
	}
	if info.Main.Path != goEthereum || info.Main.Replace == nil {
		t.Logf("%s was not built by `make op-geth` (main module %s %s): cannot tell which op-geth it is", bin, info.Main.Path, info.Main.Version)
		return
	}
	require.Equal(t, mod+" "+version, info.Main.Replace.Path+" "+info.Main.Replace.Version,
		"%s is a stale op-geth: run `make op-geth`", bin)
}
