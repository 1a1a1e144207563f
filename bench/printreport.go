package bench

import (
	"fmt"
	"io"
	"os"
)

// WriteAndPrint has write put a report into dir, copies the Markdown file
// it wrote to out and returns that file's path.
func WriteAndPrint(out io.Writer, write func(dir string) (string, error), dir string) (string, error) {
	md, err := write(dir)
	if err != nil {
		return "", err
	}
	text, err := os.ReadFile(md)
	if err != nil {
		return "", fmt.Errorf("read the report back: %w", err)
	}
	_, err = fmt.Fprint(out, string(text))
	return md, err
}
