package api

import (
	"bytes"
	"html/template"
	"net/http"
	"regexp"
	"strconv"
)

// The explanation pages of the problem types: GET /problems lists them, GET
// /problems/{slug} explains one (when the API answers it, what to do), made
// from the table of problem.go. They need no API key: a problem's `type`
// points at them.

var problemPage = template.Must(template.New("problem").Funcs(template.FuncMap{
	"md":         inlineMarkdown,
	"statusText": http.StatusText,
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{if .One}}{{.One.Title}} ({{.One.Slug}}) — {{end}}Accrue API problem types</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
code { background: #f3f3f3; padding: 0 .2em; }
table { border-collapse: collapse; } td, th { text-align: left; padding: .2rem .6rem .2rem 0; vertical-align: top; }
</style>
</head>
<body>
{{- with .One}}
<p><a href="../problems">All problem types</a></p>
<h1>{{.Title}}</h1>
<p><code>{{.URI}}</code> · {{.Status}} {{statusText .Status}}</p>
<h2>When it happens</h2>
<p>{{md .When}}</p>
<h2>What to do</h2>
<p>{{md .Do}}</p>
{{- else}}
<h1>Accrue API problem types</h1>
<p>Every error of the Accrue API is an RFC 9457 <code>application/problem+json</code> object whose <code>type</code> is one of these URIs.</p>
<table>
<tr><th>type</th><th>status</th><th>title</th></tr>
{{- range .All}}
<tr><td><a href="problems/{{.Slug}}"><code>{{.Slug}}</code></a></td><td>{{.Status}}</td><td>{{.Title}}</td></tr>
{{- end}}
</table>
{{- end}}
</body>
</html>
`))

var codeSpan = regexp.MustCompile("`([^`]+)`")

// inlineMarkdown renders the table's texts (plain text with `code` spans) as
// HTML, escaped.
func inlineMarkdown(s string) template.HTML {
	esc := template.HTMLEscapeString(s)
	return template.HTML(codeSpan.ReplaceAllString(esc, "<code>$1</code>"))
}

// serveProblems answers GET /problems (the list) and GET /problems/{slug}.
func (s *server) serveProblems(w http.ResponseWriter, r *http.Request) {
	data := struct {
		One *ProblemType
		All []*ProblemType
	}{All: problemTypes}
	if slug := r.PathValue("slug"); slug != "" {
		for _, p := range problemTypes {
			if p.Slug == slug {
				data.One = p
			}
		}
		if data.One == nil {
			writeError(w, r, s.Log, problem(probNotFound, "no problem type "+strconv.Quote(slug)))
			return
		}
	}
	var b bytes.Buffer
	if err := problemPage.Execute(&b, data); err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b.Bytes())
}
