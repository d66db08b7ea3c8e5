package localstack

import (
	"fmt"
	"os"
	"path/filepath"
)

// RepoRoot is the nearest directory above the working directory holding
// go.mod, so the local tools (`memberflow run`, `make cost`) work from any
// sub-directory of the checkout.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("run from inside the memberflow checkout (no go.mod above %s)", dir)
		}
	}
}
