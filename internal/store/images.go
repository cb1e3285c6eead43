package store

import (
	"context"
	"database/sql"
	"errors"
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
func (s *Store) GetKernel(ctx context.Context, idOrName string) (Kernel, error) {
	k, err := scanKernel(s.db.QueryRowContext(ctx,
		`SELECT `+kernelColumns+` FROM kernels WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1`, idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return Kernel{}, fmt.Errorf("getting kernel %s: %w", idOrName, ErrNotFound)
	}
	return k, s.wrap(err, "getting kernel %s", idOrName)
}

// ListKernels returns every kernel, ordered by name.
func (s *Store) ListKernels(ctx context.Context) ([]Kernel, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+kernelColumns+` FROM kernels ORDER BY name`)
	if err != nil {
		return nil, s.wrap(err, "listing kernels")
	}
	defer rows.Close()
	var ks []Kernel
	for rows.Next() {
		k, err := scanKernel(rows)
		if err != nil {
			return nil, s.wrap(err, "listing kernels")
		}
		ks = append(ks, k)
	}
	return ks, s.wrap(rows.Err(), "listing kernels")
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
func (s *Store) GetImage(ctx context.Context, idOrName string) (Image, error) {
	im, err := scanImage(s.db.QueryRowContext(ctx,
		`SELECT `+imageColumns+` FROM images WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1`, idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return Image{}, fmt.Errorf("getting image %s: %w", idOrName, ErrNotFound)
	}
	return im, s.wrap(err, "getting image %s", idOrName)
}

// FindImageByHash returns the newest image built from inputs with this
// hash (the image cache key), or ErrNotFound.
func (s *Store) FindImageByHash(ctx context.Context, hash string) (Image, error) {
	if hash == "" {
		return Image{}, fmt.Errorf("finding image by empty hash: %w", ErrNotFound)
	}
	im, err := scanImage(s.db.QueryRowContext(ctx,
		`SELECT `+imageColumns+` FROM images WHERE input_hash = ? ORDER BY created_at DESC, id LIMIT 1`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return Image{}, fmt.Errorf("finding image with hash %s: %w", hash, ErrNotFound)
	}
	return im, s.wrap(err, "finding image with hash %s", hash)
}

// ListImages returns every image, ordered by name.
func (s *Store) ListImages(ctx context.Context) ([]Image, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+imageColumns+` FROM images ORDER BY name`)
	if err != nil {
		return nil, s.wrap(err, "listing images")
	}
	defer rows.Close()
	var ims []Image
	for rows.Next() {
		im, err := scanImage(rows)
		if err != nil {
			return nil, s.wrap(err, "listing images")
		}
		ims = append(ims, im)
	}
	return ims, s.wrap(rows.Err(), "listing images")
}

// DeleteImage removes the image with this id. Not idempotent: an absent
// image gives ErrNotFound; an image still used by a VM gives ErrConflict.
func (s *Store) DeleteImage(ctx context.Context, id string) error {
	return s.deleteRow(ctx, "image", `DELETE FROM images WHERE id = ?`, id)
}
