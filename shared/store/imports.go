package store

// Bulk imports (package imports runs them; package importer reads their
// files; ledger.Import decides what a member becomes):
//
//	P#{partner}#IMPORT#{id} | IMPORT     ImportJob: the file, the status, the progress checkpoint, the counts
//	P#{partner}#IMPORT#{id} | REJ#{line} ImportRejection: a line that was not imported, and why
//	P#{partner}#M#{member}  | MEMBER     an imported member (put only if absent: "already present" otherwise)
//	P#{partner}#M#{member}  | E#{seq}    its opening entries, kind import (one per lot, ...)
//
// One member is one TransactWriteItems: the member item, put on condition
// that it does not exist; the check that its id was never erased (the
// erasure mark, erased.go), as every write that creates a member makes it;
// and its opening entries, each put on condition that it does not exist.
// So "already present" is decided atomically by DynamoDB: a member created by
// anything else — an enrolment, a payment's auto-enrolment, another import,
// another line of the same file — before or concurrently makes the
// transaction fail on the member's condition, and nothing of the line is
// written: an import never merges into a member. The member item carries
// the import and the line that created it (ledger.Member.ImportRef), so when
// an import runs a line again (it was interrupted after the member was
// written but before its checkpoint), the failed condition is recognised
// as its own earlier write and counted as imported, not as present: a
// resumed import ends with the same counts as an uninterrupted one.
//
// The job item is the import's checkpoint: after each chunk of lines (not
// each member) the runner records the last line before which every line is
// done, the byte offset of the next one and the counts so far, on condition
// that it still holds the import (ClaimImport: the last runner to claim an
// import holds it, and one that lost it stops at its next checkpoint). A
// rejected line is written (idempotently, keyed by its line number) before
// the checkpoint passes it.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/accrue/accrue/shared/ledger"
	"github.com/accrue/accrue/shared/program"
)

// Import statuses.
const (
	// ImportAwaitingUpload: created by POST /v1/imports, its file not
	// uploaded yet.
	ImportAwaitingUpload = "awaiting_upload"
	// ImportRunning: a runner works (or worked, and will resume) on it.
	ImportRunning = "running"
	// ImportCompleted: every line was imported, skipped or rejected.
	ImportCompleted = "completed"
	// ImportFailed: the file cannot be read at all (its CSV header, a file
	// that changed while it was imported); Error says why.
	ImportFailed = "failed"
)

// ImportCounts are what an import did with its lines.
type ImportCounts struct {
	// Imported: members created by the import.
	Imported int64 `dynamodbav:"n_imp" json:"imported"`
	// Skipped: members already present (enrolled, auto-enrolled by a
	// payment, imported before), left as they were.
	Skipped int64 `dynamodbav:"n_skip" json:"skipped"`
	// Rejected: lines that could not be imported (see the rejected lines).
	Rejected int64 `dynamodbav:"n_rej" json:"rejected"`
}

// Add adds c2 to c.
func (c *ImportCounts) Add(c2 ImportCounts) {
	c.Imported += c2.Imported
	c.Skipped += c2.Skipped
	c.Rejected += c2.Rejected
}

// ImportJob is one bulk import of a partner.
type ImportJob struct {
	ID        string `dynamodbav:"id" json:"id"`
	PartnerID string `dynamodbav:"partner" json:"-"`
	// Format: csv or jsonl.
	Format string `dynamodbav:"format" json:"format"`
	// Source names the file: the CLI's file name, or the uploaded object.
	Source string `dynamodbav:"src" json:"source,omitempty"`
	Status string `dynamodbav:"status" json:"status"`
	// Actor: the API key id that created it, or "cli".
	Actor     string    `dynamodbav:"actor" json:"-"`
	CreatedAt time.Time `dynamodbav:"created" json:"created_at"`
	// At is the time of the import: every member is imported as of it
	// (its entries' time, its lots checked against it), however long the
	// import takes and however often it resumes, so that a resumed import
	// ends identical to an uninterrupted one.
	At          time.Time  `dynamodbav:"at" json:"imported_as_of"`
	UpdatedAt   time.Time  `dynamodbav:"updated" json:"updated_at"`
	CompletedAt *time.Time `dynamodbav:"completed,omitempty" json:"completed_at,omitempty"`
	// The checkpoint: every line up to Line is done; the next line starts
	// at byte Offset. Header: the CSV header line.
	Line   int64  `dynamodbav:"line" json:"lines_done"`
	Offset int64  `dynamodbav:"off" json:"bytes_done"`
	Header string `dynamodbav:"hdr,omitempty" json:"-"`
	// ETag of the uploaded object being imported (the file must not change
	// while it is imported).
	ETag string `dynamodbav:"etag,omitempty" json:"-"`
	ImportCounts
	// Error: why a failed import failed.
	Error string `dynamodbav:"err,omitempty" json:"error,omitempty"`
	// Runner: the claim of the runner holding the import.
	Runner  string `dynamodbav:"runner,omitempty" json:"-"`
	Version int64  `dynamodbav:"ver" json:"-"`
}

// ImportRejection is a line of an import's file that was not imported.
type ImportRejection struct {
	Line     int64  `dynamodbav:"line" json:"line"`
	MemberID string `dynamodbav:"member,omitempty" json:"member_id,omitempty"`
	// Field: the JSON path of the bad field ("available[1].expires_at");
	// empty when the line as a whole is bad.
	Field  string `dynamodbav:"field,omitempty" json:"field,omitempty"`
	Reason string `dynamodbav:"reason" json:"reason"`
}

// Errors of imports.
var (
	ErrImportNotFound = errors.New("import not found")
	ErrImportExists   = errors.New("import exists")
	// ErrImportTakenOver: another runner claimed the import; this one must
	// stop (what it wrote is kept, and counted by the other from its last
	// checkpoint on).
	ErrImportTakenOver = errors.New("the import was taken over by another run")
	// ErrImportFinished: the import is completed or failed: nothing to run.
	ErrImportFinished = errors.New("the import is finished")
)

// CreateImport creates an import job (status and times as given) with its
// audit record, in one transaction. An import with its id exists already:
// ErrImportExists.
func (s *Store) CreateImport(ctx context.Context, j ImportJob) (ImportJob, error) {
	err := s.retry(ctx, "create import "+j.ID, func() error {
		now := s.now().UTC()
		j.CreatedAt, j.UpdatedAt, j.Version = now, now, 1
		if j.At.IsZero() {
			j.At = now
		}
		t := s.newTxn()
		if err := t.putNew(j, importPK(j.PartnerID, j.ID), skImport); err != nil {
			return err
		}
		t.roles[0] = roleDedup
		rec := AuditRecord{At: now, Actor: j.Actor, Action: AuditImport, Target: j.ID,
			Reason: fmt.Sprintf("import %s (%s, %s)", j.ID, j.Format, j.Source)}
		if err := t.audit(j.PartnerID, rec); err != nil {
			return err
		}
		return t.commit(ctx, Written{Import: &j})
	})
	if errors.Is(err, errDuplicate) {
		return j, fmt.Errorf("import %s of %s: %w", j.ID, j.PartnerID, ErrImportExists)
	}
	return j, err
}

// Import reads an import job.
func (s *Store) Import(ctx context.Context, partner, id string) (ImportJob, error) {
	var j ImportJob
	found, err := s.getItem(ctx, importPK(partner, id), skImport, &j)
	if err != nil {
		return j, err
	}
	if !found {
		return j, fmt.Errorf("import %s of %s: %w", id, partner, ErrImportNotFound)
	}
	return j, nil
}

// ClaimImport makes runner the holder of an import that is not finished
// (awaiting its upload or running) and marks it running; any previous
// holder loses it at its next checkpoint. A finished import is returned
// with ErrImportFinished.
func (s *Store) ClaimImport(ctx context.Context, partner, id, runner string) (ImportJob, error) {
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(importPK(partner, id), skImport),
		UpdateExpression:         aws.String("SET #runner = :r, #status = :running, #updated = :now ADD #ver :one"),
		ConditionExpression:      aws.String("attribute_exists(pk) AND (#status = :waiting OR #status = :running)"),
		ExpressionAttributeNames: map[string]string{"#runner": "runner", "#status": "status", "#updated": "updated", "#ver": "ver"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":r": &types.AttributeValueMemberS{Value: runner}, ":running": &types.AttributeValueMemberS{Value: ImportRunning},
			":waiting": &types.AttributeValueMemberS{Value: ImportAwaitingUpload}, ":now": timeValue(s.now()), ":one": num(1),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		j, gerr := s.Import(ctx, partner, id)
		if gerr != nil {
			return j, gerr
		}
		return j, fmt.Errorf("import %s is %s: %w", id, j.Status, ErrImportFinished)
	}
	if err != nil {
		return ImportJob{}, fmt.Errorf("claim import %s of %s: %w", id, partner, err)
	}
	var j ImportJob
	if err := attributevalue.UnmarshalMap(out.Attributes, &j); err != nil {
		return j, fmt.Errorf("unmarshal import: %w", err)
	}
	return j, nil
}

// CheckpointImport records j's progress (Line, Offset, Header, ETag, counts)
// and, when status is ImportCompleted or ImportFailed, that it finished
// (with j.Error), on condition that j.Runner still holds it
// (ErrImportTakenOver otherwise).
func (s *Store) CheckpointImport(ctx context.Context, j ImportJob, status string) (ImportJob, error) {
	now := s.now().UTC()
	j.UpdatedAt, j.Status = now, status
	if status == ImportCompleted || status == ImportFailed {
		j.CompletedAt = &now
	}
	vals := map[string]types.AttributeValue{
		":r": &types.AttributeValueMemberS{Value: j.Runner}, ":line": num(j.Line), ":off": num(j.Offset),
		":hdr": &types.AttributeValueMemberS{Value: j.Header}, ":etag": &types.AttributeValueMemberS{Value: j.ETag},
		":imp": num(j.Imported), ":skip": num(j.Skipped), ":rej": num(j.Rejected),
		":status": &types.AttributeValueMemberS{Value: status}, ":now": timeValue(now),
		":err": &types.AttributeValueMemberS{Value: j.Error},
	}
	set := "SET line = :line, off = :off, hdr = :hdr, etag = :etag, n_imp = :imp, n_skip = :skip, n_rej = :rej, " +
		"#status = :status, #updated = :now, #err = :err"
	names := map[string]string{"#runner": "runner", "#status": "status", "#updated": "updated", "#err": "err"}
	if j.CompletedAt != nil {
		set += ", #completed = :now"
		names["#completed"] = "completed"
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(importPK(j.PartnerID, j.ID), skImport),
		UpdateExpression:          aws.String(set),
		ConditionExpression:       aws.String("#runner = :r"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return j, fmt.Errorf("checkpoint of import %s: %w", j.ID, ErrImportTakenOver)
	}
	if err != nil {
		return j, fmt.Errorf("checkpoint of import %s: %w", j.ID, err)
	}
	return j, nil
}

func timeValue(t time.Time) types.AttributeValue {
	av, _ := attributevalue.Marshal(t.UTC())
	return av
}

// RejectImportLine records a rejected line of an import (the same line
// again overwrites it: a resumed import writes the same record).
func (s *Store) RejectImportLine(ctx context.Context, partner, id string, r ImportRejection) error {
	it, err := item(r, importPK(partner, id), importRejectionSK(r.Line))
	if err != nil {
		return err
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: it}); err != nil {
		return fmt.Errorf("record rejected line %d of import %s: %w", r.Line, id, err)
	}
	return nil
}

// ImportRejections lists an import's rejected lines in line order.
func (s *Store) ImportRejections(ctx context.Context, partner, id string, limit int32, cursor string) (Page[ImportRejection], error) {
	pk := importPK(partner, id)
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :rej)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}, ":rej": &types.AttributeValueMemberS{Value: pfxImportRej}},
		Limit:                     aws.Int32(limit),
	}
	var page Page[ImportRejection]
	if cursor != "" {
		k, err := decodeCursor(cursor, pk, curPK, curImportRejSK)
		if err != nil {
			return page, err
		}
		in.ExclusiveStartKey = k
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return page, fmt.Errorf("query rejected lines of import %s: %w", id, err)
	}
	page.Items = []ImportRejection{}
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &page.Items); err != nil {
		return page, fmt.Errorf("unmarshal rejected lines: %w", err)
	}
	page.Next = encodeCursor(out.LastEvaluatedKey, curPK, curImportRejSK)
	return page, nil
}

// ImportOutcome is what importing one member did.
type ImportOutcome int

// Import outcomes.
const (
	// MemberImported: the member and its opening entries were written now.
	MemberImported ImportOutcome = iota
	// MemberImportedBefore: this import's same line wrote it before (a
	// resumed import): it counts as imported.
	MemberImportedBefore
	// MemberPresent: the member already existed (enrolled, auto-enrolled,
	// imported by another import or line); nothing was written.
	MemberPresent
)

// ImportMember creates the member that o describes with its opening entries
// (ledger.Import decides them, as of at; ref names the import and the line),
// in one transaction conditional on the member's absence and on its id never
// having been erased. A member that exists is MemberPresent (or
// MemberImportedBefore when ref created it); an erased id is ErrMemberErased;
// an opening that does not fit the program is a *ledger.ImportError. Due and
// release times are set as every write sets them (lowerDue).
func (s *Store) ImportMember(ctx context.Context, partner string, p *program.Program, o ledger.Opening, ref string, at time.Time) (ImportOutcome, error) {
	m, es, err := ledger.Import(partner, p, o, ref, at)
	if err != nil {
		return 0, err
	}
	for i := range es {
		lowerDue(&m, p, &es[i])
	}
	var outcome ImportOutcome
	err = s.retry(ctx, "import "+partner+"/"+o.MemberID, func() error {
		t := s.newTxn()
		if err := t.putMember(&m, 0, true); err != nil {
			return err
		}
		t.roles[0] = roleDedup // the member item is the import's record of it
		t.notErased(partner, m.ID)
		for i := range es {
			if err := t.entry(&es[i]); err != nil {
				return err
			}
		}
		err := t.commit(ctx, Written{Member: m})
		if !errors.Is(err, errDuplicate) {
			outcome = MemberImported
			return err
		}
		cur, err := s.Member(ctx, partner, m.ID)
		if errors.Is(err, ErrMemberNotFound) {
			return errConflict // gone again (erased meanwhile): decide again
		}
		if err != nil {
			return err
		}
		outcome = MemberPresent
		if cur.ImportRef == ref {
			outcome = MemberImportedBefore
		}
		return nil
	})
	return outcome, err
}
