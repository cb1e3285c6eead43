package disk

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"banger/internal/testenv"
)

// BenchmarkCloneSize clones a 1 GiB and an 8 GiB sparse image that hold the
// same 32 MiB of data, by each method, and reports the time ratio: an O(1)
// (or O(data)) clone stays near 1, a full copy would be near 8.
//
//	go test -run '^$' -bench CloneSize ./internal/disk
func BenchmarkCloneSize(b *testing.B) {
	for _, m := range []struct {
		name    string
		formats []string
		want    Method
		dir     func(testing.TB) string
	}{
		{"sparse-copy", []string{FormatRaw}, MethodSparseCopy, func(tb testing.TB) string { return tb.TempDir() }},
		{"qcow2", []string{FormatQcow2}, MethodQcow2, func(tb testing.TB) string {
			testenv.RequireBinary(tb, "qemu-img", "qemu-utils")
			return tb.TempDir()
		}},
		{"reflink", []string{FormatRaw}, MethodReflink, mountXFS},
	} {
		b.Run(m.name, func(b *testing.B) {
			dir := m.dir(b)
			small, large := filepath.Join(dir, "1g.img"), filepath.Join(dir, "8g.img")
			at := []int64{0, 100, 500, 900}
			for i := range at {
				for j := range int64(8) {
					at = append(at, at[i]+1+j)
				}
			}
			sparseImage(b, small, 1<<30, at...)
			sparseImage(b, large, 8<<30, at...)
			ctx := context.Background()
			var tSmall, tLarge time.Duration
			clone := func(src string) time.Duration {
				dst := filepath.Join(dir, "clone")
				start := time.Now()
				r, err := CloneMethod(ctx, src, dst, m.formats, 0)
				d := time.Since(start)
				if err != nil {
					b.Fatalf("Clone %s: %v", src, err)
				}
				if r.Method != m.want {
					b.Skipf("Clone used %s here, not %s", r.Method, m.want)
				}
				if err := os.Remove(dst); err != nil {
					b.Fatal(err)
				}
				return d
			}
			for b.Loop() {
				tSmall += clone(small)
				tLarge += clone(large)
			}
			n := float64(b.N)
			b.ReportMetric(float64(tSmall.Nanoseconds())/n, "ns/clone-1GiB")
			b.ReportMetric(float64(tLarge.Nanoseconds())/n, "ns/clone-8GiB")
			b.ReportMetric(float64(tLarge)/float64(tSmall), "ratio-8GiB/1GiB")
		})
	}
}
