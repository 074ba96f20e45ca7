package api

import (
	"context"
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/accrue/accrue/shared/importer"
	"github.com/accrue/accrue/shared/imports"
	"github.com/accrue/accrue/shared/store"
)

// ImportStore is what the bulk import routes use of the store.
type ImportStore interface {
	CreateImport(ctx context.Context, j store.ImportJob) (store.ImportJob, error)
	Import(ctx context.Context, partner, id string) (store.ImportJob, error)
	ImportRejections(ctx context.Context, partner, id string, limit int32, cursor string) (store.Page[store.ImportRejection], error)
}

// Uploader signs the upload URL of an import's file (imports.Uploads).
type Uploader interface {
	UploadURL(ctx context.Context, partner, id string) (imports.Upload, error)
}

// errNoUploads: the API runs without an imports bucket (a misconfigured
// deployment): an internal error, logged.
var errNoUploads = errors.New("no imports bucket configured (ACCRUE_IMPORTS_BUCKET)")

// MaxImportFileName bounds the file name a partner gives an import.
const MaxImportFileName = 200

// idImport is an import id Accrue gave (imports.ValidID).
var idImport = idKind{"an import id from POST /v1/imports", imports.ValidID}

type importRequest struct {
	Format   string `json:"format"`
	FileName string `json:"file_name"`
}

// ImportView is an import as the API shows it; GET /v1/imports/{id} adds a
// page of its rejected lines (data, next_cursor).
type ImportView struct {
	store.ImportJob
	Upload *imports.Upload `json:"upload,omitempty"`
}

type importPage struct {
	ImportView
	list[store.ImportRejection]
}

// createImport is POST /v1/imports: a new import awaiting its file, and the
// presigned URL to PUT the file to (valid for imports.UploadTTL). The
// file's arrival in the bucket starts the import (the imports function).
func (s *server) createImport(ctx context.Context, c *call) (result, error) {
	var req importRequest
	if err := decodeStrict(c.body, &req); err != nil {
		return result{}, err
	}
	if utf8.RuneCountInString(req.FileName) > MaxImportFileName || !utf8.ValidString(req.FileName) {
		return result{}, invalid("file_name", "at most 200 characters")
	}
	format, err := importer.ParseFormat(req.Format)
	switch {
	case req.Format == "" && req.FileName != "":
		var ok bool
		if format, ok = importer.FormatOf(req.FileName); !ok {
			return result{}, invalid("format", "required when file_name does not end in .csv, .jsonl or .ndjson")
		}
	case err != nil:
		return result{}, invalid("format", "csv or jsonl")
	}
	if s.Uploads == nil {
		return result{}, errNoUploads
	}
	id := imports.NewID()
	up, err := s.Uploads.UploadURL(ctx, c.principal.PartnerID, id)
	if err != nil {
		return result{}, err
	}
	render := func(w store.Written) (result, error) {
		return result{http.StatusCreated, ImportView{ImportJob: *w.Import, Upload: &up}}, nil
	}
	c.respond(render)
	job, err := s.Store.CreateImport(ctx, store.ImportJob{ID: id, PartnerID: c.principal.PartnerID, Format: string(format),
		Source: req.FileName, Status: store.ImportAwaitingUpload, Actor: c.principal.KeyID})
	if err != nil {
		return result{}, err
	}
	return render(store.Written{Import: &job})
}

// getImport is GET /v1/imports/{id}: the import's status, progress and
// counts, and a page of its rejected lines (?limit=&cursor=), in line order.
func (s *server) getImport(ctx context.Context, c *call) (result, error) {
	id, err := pathID(c, "id", idImport)
	if err != nil {
		return result{}, err
	}
	limit, cursor, err := pageParams(c.r)
	if err != nil {
		return result{}, err
	}
	job, err := s.Store.Import(ctx, c.principal.PartnerID, id)
	if err != nil {
		return result{}, err
	}
	page, err := s.Store.ImportRejections(ctx, c.principal.PartnerID, id, limit, cursor)
	if err != nil {
		return result{}, err
	}
	out := importPage{ImportView: ImportView{ImportJob: job}, list: list[store.ImportRejection]{Data: page.Items, NextCursor: page.Next}}
	return result{http.StatusOK, out}, nil
}
