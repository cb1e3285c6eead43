package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// copyFile copies the regular file src to dst (which must not exist),
// keeping its permission bits. io.Copy between two files uses
// copy_file_range on Linux.
func copyFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("copying %s: not a regular file", src)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	return nil
}

// copyTree copies the directory src to dst (which must not exist):
// directories, regular files and symlinks (as symlinks, not followed).
// Other file types are an error. It stops early when ctx is done.
func copyTree(ctx context.Context, src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walking %s: %w", src, err)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("copying %s: %w", src, err)
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch t := d.Type(); {
		case t.IsDir():
			fi, err := d.Info()
			if err != nil {
				return fmt.Errorf("copying %s: %w", p, err)
			}
			if err := os.Mkdir(target, fi.Mode().Perm()|0o700); err != nil {
				return fmt.Errorf("copying %s: %w", p, err)
			}
			return nil
		case t&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("copying %s: %w", p, err)
			}
			if err := os.Symlink(link, target); err != nil {
				return fmt.Errorf("copying %s: %w", p, err)
			}
			return nil
		case t.IsRegular():
			return copyFile(p, target)
		default:
			return fmt.Errorf("copying %s: unsupported file type %v", p, t)
		}
	})
}
