package routes

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// tableRecord is the file form of a Table: the tree itself, so a merge of
// saved tables learns the same templates as one table fed every request.
type tableRecord struct {
	Options   Options    `json:"options"`
	Requests  uint64     `json:"requests"`
	Collapsed int        `json:"collapsed,omitempty"`
	Hosts     []string   `json:"hosts,omitempty"`
	ManyHosts bool       `json:"many_hosts,omitempty"`
	Root      nodeRecord `json:"root"`
}

type nodeRecord struct {
	Seg      string         `json:"seg,omitempty"`
	Wild     bool           `json:"wild,omitempty"`
	GRPC     bool           `json:"grpc,omitempty"`
	Prefix   bool           `json:"prefix,omitempty"`
	Folded   bool           `json:"folded,omitempty"`
	Methods  []methodRecord `json:"methods,omitempty"`
	Children []nodeRecord   `json:"children,omitempty"`
}

type methodRecord struct {
	Method   string   `json:"method"`
	Count    uint64   `json:"count"`
	First    string   `json:"first,omitempty"`
	Last     string   `json:"last,omitempty"`
	Query    bool     `json:"query,omitempty"`
	Plain    bool     `json:"plain,omitempty"`
	Examples []string `json:"examples,omitempty"`
}

// MarshalJSON writes the table; the same table gives the same bytes.
func (t *Table) MarshalJSON() ([]byte, error) {
	r := tableRecord{Options: t.opts, Requests: t.requests, Collapsed: t.collapsed, Hosts: t.hosts, ManyHosts: t.manyHosts, Root: record(t.root)}
	return json.Marshal(r)
}

func record(n *node) nodeRecord {
	r := nodeRecord{GRPC: n.grpc, Prefix: n.prefix, Folded: n.folded}
	ms := make([]string, 0, len(n.methods))
	for m := range n.methods {
		ms = append(ms, m)
	}
	slices.Sort(ms)
	for _, m := range ms {
		st := n.methods[m]
		r.Methods = append(r.Methods, methodRecord{Method: m, Count: st.Count, First: formatTime(st.First), Last: formatTime(st.Last),
			Query: st.Query, Plain: st.Plain, Examples: st.Examples})
	}
	keys := make([]string, 0, len(n.children))
	for s := range n.children {
		keys = append(keys, s)
	}
	slices.Sort(keys)
	for _, s := range keys {
		c := record(n.children[s])
		c.Seg = s
		r.Children = append(r.Children, c)
	}
	if n.wild != nil {
		c := record(n.wild)
		c.Wild = true
		r.Children = append(r.Children, c)
	}
	return r
}

// UnmarshalJSON reads a table written by MarshalJSON, checking what a
// hand-edited file could break.
func (t *Table) UnmarshalJSON(data []byte) error {
	var r tableRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return err
	}
	nt := New(r.Options)
	nt.requests, nt.collapsed, nt.manyHosts = r.Requests, r.Collapsed, r.ManyHosts
	for _, h := range r.Hosts {
		nt.addHost(h)
	}
	root, err := nt.node(r.Root, 0)
	if err != nil {
		return fmt.Errorf("route table: %w", err)
	}
	nt.root = root
	nt.bound()
	*t = *nt
	return nil
}

func (t *Table) node(r nodeRecord, depth int) (*node, error) {
	if depth > maxDepth+1 {
		return nil, fmt.Errorf("deeper than %d segments", maxDepth)
	}
	n := &node{grpc: r.GRPC, prefix: r.Prefix, folded: r.Folded}
	for _, m := range r.Methods {
		if !validMethod(m.Method) {
			return nil, fmt.Errorf("malformed HTTP method %q", m.Method)
		}
		first, err1 := parseTime(m.First)
		last, err2 := parseTime(m.Last)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("method %s: bad time", m.Method)
		}
		st := t.method(n, m.Method)
		st.merge(&Stats{Count: m.Count, First: first, Last: last, Query: m.Query, Plain: m.Plain, Examples: m.Examples})
	}
	for _, cr := range r.Children {
		if n.prefix {
			return nil, fmt.Errorf("a prefix route has children")
		}
		c, err := t.node(cr, depth+1)
		if err != nil {
			return nil, err
		}
		if cr.Wild {
			if n.wild != nil {
				return nil, fmt.Errorf("two wildcard children")
			}
			n.wild = c
			continue
		}
		if n.children == nil {
			n.children = map[string]*node{}
		}
		if _, dup := n.children[cr.Seg]; dup {
			return nil, fmt.Errorf("segment %q listed twice", cr.Seg)
		}
		n.children[cr.Seg] = c
	}
	return n, nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err
}
