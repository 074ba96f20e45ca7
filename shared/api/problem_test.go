package api_test

import (
	"bytes"
	"flag"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/accrue/accrue/shared/api"
)

var update = flag.Bool("update", false, "rewrite docs/problems.md from the problem table (TestProblemsDoc)")

// serve answers one request of the API without a store (routes that need no
// key) and records it for checkOpenAPI.
func serve(t *testing.T, h http.Handler, path string) exchange {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return exchange{Method: "GET", Path: path, ReqHeader: http.Header{}, Status: rec.Code, RespHeader: rec.Header().Clone(), RespBody: rec.Body.Bytes()}
}

var tags = regexp.MustCompile(`<[^>]*>`)

// text is a page's text: tags dropped, entities decoded, spaces collapsed.
func text(page []byte) string {
	return strings.Join(strings.Fields(html.UnescapeString(tags.ReplaceAllString(string(page), ""))), " ")
}

func plain(md string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(md, "`", "")), " ")
}

// Every problem type the API answers with has its page, at the path of its
// type URI, saying its status, title, when it happens and what to do; the
// list links each; an unknown slug is the not-found problem. Pages need no
// key, and every exchange is checked against the OpenAPI document.
func TestProblemPages(t *testing.T) {
	h := api.New(api.Deps{})
	var exs []exchange
	list := serve(t, h, "/problems")
	exs = append(exs, list)
	if list.Status != http.StatusOK || list.RespHeader.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /problems: %d %q", list.Status, list.RespHeader.Get("Content-Type"))
	}
	types := api.ProblemTypes()
	for _, p := range types {
		t.Run(p.Slug, func(t *testing.T) {
			u, err := url.Parse(p.URI())
			if err != nil {
				t.Fatal(err)
			}
			if u.Path != "/problems/"+p.Slug {
				t.Fatalf("type URI %s: its path is not the page's /problems/%s", p.URI(), p.Slug)
			}
			if !bytes.Contains(list.RespBody, []byte(`href="problems/`+p.Slug+`"`)) {
				t.Errorf("GET /problems does not link %s", p.Slug)
			}
			page := serve(t, h, u.Path)
			exs = append(exs, page)
			if page.Status != http.StatusOK {
				t.Fatalf("GET %s: %d %s", u.Path, page.Status, page.RespBody)
			}
			got := text(page.RespBody)
			for _, want := range []string{
				p.Title, p.URI(), fmt.Sprintf("%d %s", p.Status, http.StatusText(p.Status)),
				"When it happens " + plain(p.When), "What to do " + plain(p.Do),
			} {
				if !strings.Contains(got, want) {
					t.Errorf("the page of %s lacks %q:\n%s", p.Slug, want, got)
				}
			}
			if p.When == "" || p.Do == "" || !strings.HasSuffix(p.When, ".") || !strings.HasSuffix(p.Do, ".") {
				t.Errorf("%s: When and Do must be sentences", p.Slug)
			}
		})
	}
	missing := serve(t, h, "/problems/no-such-problem")
	exs = append(exs, missing)
	if missing.Status != http.StatusNotFound || !bytes.Contains(missing.RespBody, []byte(api.ProblemBase+"not-found")) {
		t.Fatalf("an unknown slug: %d %s", missing.Status, missing.RespBody)
	}
	checkOpenAPI(t, exs)
}

// docs/problems.md is made from the same table: it must be what the table
// renders now (go test ./shared/api -run TestProblemsDoc -update rewrites it).
func TestProblemsDoc(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "problems.md")
	want := problemsMarkdown(api.ProblemTypes())
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("docs/problems.md is not what shared/api/problem.go's table renders: run go test ./shared/api -run TestProblemsDoc -update")
	}
}

func problemsMarkdown(types []api.ProblemType) []byte {
	var b bytes.Buffer
	b.WriteString("# Problem types\n\n")
	b.WriteString("<!-- Made from the table of shared/api/problem.go by `go test ./shared/api -run TestProblemsDoc -update`: edit the table, not this file. -->\n\n")
	b.WriteString("Every error of the Accrue API is an RFC 9457 `application/problem+json` object whose `type` is one of\n")
	b.WriteString("the URIs below: `" + api.ProblemBase + "` + a slug. The type is a stable identifier (compare it, or\n")
	b.WriteString("its slug); its path is the path of the page that explains it on every deployed API,\n")
	b.WriteString("`GET /problems/{slug}` (`GET /problems` lists them), with what this file says.\n\n")
	b.WriteString("| type | status | title |\n|---|---|---|\n")
	for _, p := range types {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %d | %s |\n", p.Slug, p.Slug, p.Status, p.Title)
	}
	for _, p := range types {
		fmt.Fprintf(&b, "\n## %s\n\n`%s` · %d %s · %s\n\n", p.Slug, p.URI(), p.Status, http.StatusText(p.Status), p.Title)
		fmt.Fprintf(&b, "**When it happens.** %s\n\n**What to do.** %s\n", p.When, p.Do)
	}
	return b.Bytes()
}
