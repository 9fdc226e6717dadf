package classify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/rehearsal-dev/rehearsal/internal/workspace"
)

// The GitHub events classify understands.
const (
	EventPush        = "push"
	EventPullRequest = "pull_request"
)

// event is what classify takes from a webhook payload.
type event struct {
	Kind               string
	Base, Head, Ref    string
	BasePath, HeadPath string // JSON paths of Base and Head, for messages
	Author             string
	AuthorEmail        string
	// Files is the change as a push payload lists it (nil for pull_request).
	Files []workspace.File
}

// readEvent reads a push or pull_request payload. name, when given, is the
// X-GitHub-Event header value; otherwise the kind is told from the payload.
// Missing fields are reported together, each by its JSON path.
func readEvent(file, name string) (*event, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read event: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("%s: offset %d: not a JSON object: %w", file, dec.InputOffset(), err)
	}
	kind := name
	switch {
	case kind == "":
		if _, ok := root["pull_request"]; ok {
			kind = EventPullRequest
		} else if _, ok := root["after"]; ok {
			kind = EventPush
		} else {
			return nil, fmt.Errorf("%s: neither a push (after) nor a pull_request (pull_request) payload", file)
		}
	case kind != EventPush && kind != EventPullRequest:
		return nil, fmt.Errorf("%s: event %q is not supported (want %s or %s)", file, kind, EventPush, EventPullRequest)
	}
	p := payload{file: file, root: root}
	ev := &event{Kind: kind}
	if kind == EventPullRequest {
		ev.BasePath, ev.HeadPath = "pull_request.base.sha", "pull_request.head.sha"
		ev.Base = p.str(ev.BasePath, true)
		ev.Head = p.str(ev.HeadPath, true)
		ev.Author = p.str("pull_request.user.login", true)
		ev.Ref = p.str("pull_request.head.ref", false)
		return ev, p.err()
	}
	ev.BasePath, ev.HeadPath = "before", "after"
	ev.Base = p.str("before", true)
	ev.Head = p.str("after", true)
	ev.Ref = p.str("ref", true)
	ev.AuthorEmail = p.str("head_commit.author.email", false)
	ev.Author = p.str("head_commit.author.username", false)
	if ev.Author == "" && ev.AuthorEmail != "" {
		ev.Author = userName("", ev.AuthorEmail)
	}
	if ev.Author == "" {
		ev.Author = p.str("pusher.name", false)
	}
	if ev.Author == "" {
		p.problems = append(p.problems, "head_commit.author.username: missing (nor head_commit.author.email, nor pusher.name)")
	}
	ev.Files = p.pushFiles()
	return ev, p.err()
}

type payload struct {
	file     string
	root     map[string]any
	problems []string
}

func (p *payload) err() error {
	if len(p.problems) == 0 {
		return nil
	}
	lines := make([]string, len(p.problems))
	for i, m := range p.problems {
		lines[i] = p.file + ": " + m
	}
	return fmt.Errorf("%s", strings.Join(lines, "\n"))
}

// get follows a dotted path; ok is false when a step is missing or null.
func (p *payload) get(path string) (any, bool) {
	var v any = p.root
	for _, k := range strings.Split(path, ".") {
		m, isMap := v.(map[string]any)
		if !isMap {
			return nil, false
		}
		v = m[k]
		if v == nil {
			return nil, false
		}
	}
	return v, true
}

func (p *payload) str(path string, required bool) string {
	v, ok := p.get(path)
	if !ok {
		if required {
			p.problems = append(p.problems, path+": missing")
		}
		return ""
	}
	s, isStr := v.(string)
	if !isStr {
		p.problems = append(p.problems, fmt.Sprintf("%s: want a string, got %s", path, jsonType(v)))
		return ""
	}
	if required && s == "" {
		p.problems = append(p.problems, path+": empty")
	}
	return s
}

func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

// pushFiles nets the commits' added/removed/modified lists into one status per
// file: a file that existed before and after is M, one that appeared is A, one
// that went away is D; a file added and removed again is left out. Line counts
// are not in the payload.
func (p *payload) pushFiles() []workspace.File {
	v, ok := p.get("commits")
	if !ok {
		p.problems = append(p.problems, "commits: missing")
		return nil
	}
	commits, isArr := v.([]any)
	if !isArr {
		p.problems = append(p.problems, "commits: want an array, got "+jsonType(v))
		return nil
	}
	type state struct{ before, after bool }
	files := map[string]*state{}
	for i, cv := range commits {
		cm, isMap := cv.(map[string]any)
		if !isMap {
			p.problems = append(p.problems, fmt.Sprintf("commits[%d]: want an object, got %s", i, jsonType(cv)))
			continue
		}
		for _, key := range []string{"added", "removed", "modified"} {
			lv, present := cm[key]
			if !present || lv == nil {
				continue
			}
			list, isArr := lv.([]any)
			if !isArr {
				p.problems = append(p.problems, fmt.Sprintf("commits[%d].%s: want an array, got %s", i, key, jsonType(lv)))
				continue
			}
			for j, fv := range list {
				path, isStr := fv.(string)
				if !isStr || path == "" {
					p.problems = append(p.problems, fmt.Sprintf("commits[%d].%s[%d]: want a path", i, key, j))
					continue
				}
				s := files[path]
				if s == nil {
					s = &state{before: key != "added"}
					files[path] = s
				}
				s.after = key != "removed"
			}
		}
	}
	out := []workspace.File{}
	for path, s := range files {
		f := workspace.File{Path: path, Services: []string{}}
		switch {
		case s.before && s.after:
			f.Status = "M"
		case s.after:
			f.Status = "A"
		case s.before:
			f.Status = "D"
		default:
			continue
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
