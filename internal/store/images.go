package store

import (
	"context"
	"fmt"
)

const kernelColumns = `id, name, path, vmlinux, initrd, modules_dir, version, created_at`

func scanKernel(r scanner) (Kernel, error) {
	var k Kernel
	var created string
	if err := r.Scan(&k.ID, &k.Name, &k.Path, &k.Vmlinux, &k.Initrd, &k.ModulesDir, &k.Version, &created); err != nil {
		return Kernel{}, err
	}
	var err error
	k.CreatedAt, err = parseTime(created)
	return k, err
}

// CreateKernel stores k, filling k.ID (when empty) and k.CreatedAt. A name
// or id already taken gives ErrConflict; a second call with the same kernel
// therefore fails.
func (s *Store) CreateKernel(ctx context.Context, k *Kernel) error {
	if k.Name == "" {
		return fmt.Errorf("creating kernel: empty name")
	}
	if k.ID == "" {
		id, err := newID()
		if err != nil {
			return err
		}
		k.ID = id
	}
	k.CreatedAt = now()
	_, err := s.db.ExecContext(ctx, `INSERT INTO kernels (`+kernelColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Name, k.Path, k.Vmlinux, k.Initrd, k.ModulesDir, k.Version, formatTime(k.CreatedAt))
	if isUnique(err) {
		return fmt.Errorf("creating kernel %s: %w", k.Name, ErrConflict)
	}
	return s.wrap(err, "creating kernel %s", k.Name)
}

// GetKernel returns the kernel whose id, or else name, is idOrName.
func (s *Store) GetKernel(ctx context.Context, idOrName string) (*Kernel, error) {
	return ptr(queryOne(ctx, s, scanKernel, "getting kernel "+idOrName,
		`SELECT `+kernelColumns+` FROM kernels WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1`, idOrName))
}

// ListKernels returns every kernel, ordered by name.
func (s *Store) ListKernels(ctx context.Context) ([]Kernel, error) {
	return queryAll(ctx, s, scanKernel, "listing kernels", `SELECT `+kernelColumns+` FROM kernels ORDER BY name`)
}

// DeleteKernel removes the kernel with this id. Not idempotent: an absent
// kernel gives ErrNotFound; a kernel still used by an image or a VM gives
// ErrConflict.
func (s *Store) DeleteKernel(ctx context.Context, id string) error {
	return s.deleteRow(ctx, "kernel", `DELETE FROM kernels WHERE id = ?`, id)
}

// deleteRow runs a single-row DELETE, mapping "no row" to ErrNotFound and a
// foreign-key refusal (still referenced) to ErrConflict.
func (s *Store) deleteRow(ctx context.Context, what, query, id string) error {
	res, err := s.db.ExecContext(ctx, query, id)
	if isForeignKey(err) {
		return fmt.Errorf("deleting %s %s: still in use: %w", what, id, ErrConflict)
	}
	if err != nil {
		return s.wrap(err, "deleting %s %s", what, id)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.wrap(err, "deleting %s %s", what, id)
	}
	if n == 0 {
		return fmt.Errorf("deleting %s %s: %w", what, id, ErrNotFound)
	}
	return nil
}

const imageColumns = `id, name, path, size_bytes, input_hash, coalesce(kernel_id, ''), created_at`

func scanImage(r scanner) (Image, error) {
	var im Image
	var created string
	if err := r.Scan(&im.ID, &im.Name, &im.Path, &im.SizeBytes, &im.InputHash, &im.KernelID, &created); err != nil {
		return Image{}, err
	}
	var err error
	im.CreatedAt, err = parseTime(created)
	return im, err
}

// CreateImage stores im, filling im.ID (when empty) and im.CreatedAt. A name
// or id already taken gives ErrConflict; an im.KernelID that names no kernel
// gives ErrNotFound.
func (s *Store) CreateImage(ctx context.Context, im *Image) error {
	if im.Name == "" {
		return fmt.Errorf("creating image: empty name")
	}
	if im.ID == "" {
		id, err := newID()
		if err != nil {
			return err
		}
		im.ID = id
	}
	im.CreatedAt = now()
	_, err := s.db.ExecContext(ctx, `INSERT INTO images (id, name, path, size_bytes, input_hash, kernel_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		im.ID, im.Name, im.Path, im.SizeBytes, im.InputHash, nullable(im.KernelID), formatTime(im.CreatedAt))
	switch {
	case isUnique(err):
		return fmt.Errorf("creating image %s: %w", im.Name, ErrConflict)
	case isForeignKey(err):
		return fmt.Errorf("creating image %s: kernel %s: %w", im.Name, im.KernelID, ErrNotFound)
	}
	return s.wrap(err, "creating image %s", im.Name)
}

// GetImage returns the image whose id, or else name, is idOrName.
func (s *Store) GetImage(ctx context.Context, idOrName string) (*Image, error) {
	return ptr(queryOne(ctx, s, scanImage, "getting image "+idOrName,
		`SELECT `+imageColumns+` FROM images WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1`, idOrName))
}

// FindImageByHash returns the newest image built from inputs with this
// hash (the image cache key), or ErrNotFound.
func (s *Store) FindImageByHash(ctx context.Context, hash string) (*Image, error) {
	if hash == "" {
		return nil, fmt.Errorf("finding image by empty hash: %w", ErrNotFound)
	}
	return ptr(queryOne(ctx, s, scanImage, "finding image with hash "+hash,
		`SELECT `+imageColumns+` FROM images WHERE input_hash = ? ORDER BY created_at DESC, id LIMIT 1`, hash))
}

// ListImages returns every image, ordered by name.
func (s *Store) ListImages(ctx context.Context) ([]Image, error) {
	return queryAll(ctx, s, scanImage, "listing images", `SELECT `+imageColumns+` FROM images ORDER BY name`)
}

// DeleteImage removes the image with this id. Not idempotent: an absent
// image gives ErrNotFound; an image still used by a VM gives ErrConflict.
func (s *Store) DeleteImage(ctx context.Context, id string) error {
	return s.deleteRow(ctx, "image", `DELETE FROM images WHERE id = ?`, id)
}
