package guest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"banger/internal/agent/proto"
)

// filePut writes the content frames to a temporary file beside the target
// and renames it into place once the host sends stdin-close, so a reader
// never sees a half-written file.
func (s *Server) filePut(st *stream, req proto.Request) error {
	if req.File == nil || !filepath.IsAbs(req.File.Path) {
		return st.fail(proto.Errorf(proto.CodeInvalid, "file.put: an absolute path is required"))
	}
	path, mode := req.File.Path, fs.FileMode(req.File.Mode).Perm()
	if mode == 0 {
		mode = 0o644
	}
	dir := filepath.Dir(path)
	if req.File.MkdirAll {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return st.fail(proto.Errorf(proto.CodeInternal, "creating %s: %v", dir, err))
		}
	}
	tmp, err := os.CreateTemp(dir, ".banger-put-*")
	if err != nil {
		code := proto.CodeInternal
		if errors.Is(err, fs.ErrNotExist) {
			code = proto.CodeNotFound
		}
		return st.fail(proto.Errorf(code, "creating file in %s: %v", dir, err))
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := st.respond(proto.Response{OK: true}); err != nil {
		tmp.Close()
		return err
	}
	err = receive(st, tmp)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing %s: %w", tmp.Name(), cerr)
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), mode)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	status := proto.ExitStatus{}
	if err != nil {
		status = proto.ExitStatus{Code: -1, Error: fmt.Sprintf("writing %s: %v", path, err)}
	}
	return st.frame(proto.FrameExit, proto.ExitPayload(status))
}

// receive copies stdin frames to w until stdin-close.
func receive(st *stream, w io.Writer) error {
	for {
		f, err := proto.ReadFrame(st.r)
		if err != nil {
			return fmt.Errorf("reading content: %w", err)
		}
		switch f.Type {
		case proto.FrameStdin:
			if _, err := w.Write(f.Payload); err != nil {
				return err
			}
		case proto.FrameStdinClose:
			return nil
		default:
			return fmt.Errorf("unexpected %s frame in file content", f.Type)
		}
	}
}

// fileGet answers the file's mode and size, then its content as stdout
// frames, then an exit frame.
func (s *Server) fileGet(st *stream, req proto.Request) error {
	if req.File == nil || !filepath.IsAbs(req.File.Path) {
		return st.fail(proto.Errorf(proto.CodeInvalid, "file.get: an absolute path is required"))
	}
	f, err := os.Open(req.File.Path)
	if err != nil {
		code := proto.CodeInternal
		if errors.Is(err, fs.ErrNotExist) {
			code = proto.CodeNotFound
		}
		return st.fail(proto.Errorf(code, "opening %s: %v", req.File.Path, err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return st.fail(proto.Errorf(proto.CodeInvalid, "%s is not a regular file", req.File.Path))
	}
	if err := st.respond(proto.Response{OK: true, File: &proto.FileInfo{Mode: uint32(fi.Mode().Perm()), Size: fi.Size()}}); err != nil {
		return err
	}
	buf := make([]byte, 256<<10)
	status := proto.ExitStatus{}
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if werr := st.frame(proto.FrameStdout, buf[:n]); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			status = proto.ExitStatus{Code: -1, Error: fmt.Sprintf("reading %s: %v", req.File.Path, err)}
			break
		}
	}
	return st.frame(proto.FrameExit, proto.ExitPayload(status))
}
