// Command loader copies a table source's JSON file into Redis, for the redis
// source: each entry becomes one key, the prefix and the entry's key, holding
// the entry's object as a JSON string (the redis source's format json).
//
//	go run ./examples/saas/loader -table tenants.json -redis redis://127.0.0.1:6379/0 -prefix tenant:
//
// The "*" entry, the table's answer for keys it lacks, is written to the key
// -default (tenant:default unless given), the key the source's `default`
// names: the redis source looks it up when a tenant's key misses. It starts
// with -prefix, as every key the source reads must, and -delete keeps it. A
// token whose tenant renders to it gets the entry every unknown tenant gets.
// With -default "" it is not loaded, and the loader prints its members as
// `set` lines to put before the source. Keys already in Redis that
// the file lacks are left alone unless -delete is given, which deletes every
// key with the prefix that the file lacks. The writes of one run go in one
// MULTI/EXEC transaction, so the redis sources see all of them or none.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loader:", err)
		os.Exit(1)
	}
}

// run parses the flags, loads the file and reports on w.
func run(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("loader", flag.ContinueOnError)
	table := fs.String("table", "", "the table source's JSON file (required)")
	url := fs.String("redis", "", "the Redis URL, redis://[user:password@]host:port/db (required); REDIS_PASSWORD, when set, is its password")
	prefix := fs.String("prefix", "tenant:", "the literal start of the redis source's key template")
	defKey := fs.String("default", "tenant:default", `the key the "*" entry is written to, the source's default key, starting with -prefix; "" to print it as set lines instead`)
	del := fs.Bool("delete", false, "delete the keys with the prefix that the file lacks")
	timeout := fs.Duration("timeout", 30*time.Second, "the bound of the whole load")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *table == "" || *url == "" {
		return errors.New("-table and -redis are required: loader -table tenants.json -redis redis://127.0.0.1:6379/0")
	}
	if *prefix == "" {
		return errors.New("-prefix is empty: give the literal start of the source's key template, e.g. -prefix tenant:")
	}
	if *defKey != "" && !strings.HasPrefix(*defKey, *prefix) {
		return fmt.Errorf("-default %q does not start with -prefix %q: the redis source reads only keys of its template; give e.g. -default %sdefault", *defKey, *prefix, *prefix)
	}
	raw, err := os.ReadFile(*table)
	if err != nil {
		return fmt.Errorf("reading the table: %w", err)
	}
	entries, def, err := parseTable(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", *table, err)
	}
	opts, err := redis.ParseURL(*url)
	if err != nil {
		return fmt.Errorf("the Redis URL: %w", err)
	}
	if p := os.Getenv("REDIS_PASSWORD"); p != "" {
		opts.Password = p
	}
	client := redis.NewClient(opts)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var defEntry *entry
	if def != nil && *defKey != "" {
		defEntry = &entry{key: *defKey, object: def.object}
	}
	deleted, err := load(ctx, client, *prefix, entries, defEntry, *del)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "loaded %d keys %s<key> into %s", len(entries), *prefix, opts.Addr)
	if *del {
		fmt.Fprintf(w, ", deleted %d", deleted)
	}
	fmt.Fprintln(w)
	switch {
	case defEntry != nil:
		fmt.Fprintf(w, "loaded \"*\" into %s: name it in the source, default %s\n", defEntry.key, defEntry.key)
	case def != nil:
		fmt.Fprintln(w, `"*" is not loaded: put its members before the source, as set lines (later wins):`)
		for _, l := range setLines(def.members) {
			fmt.Fprintln(w, "\t"+l)
		}
	}
	return nil
}

// entry is one key of the table and its object, compacted.
type entry struct {
	key    string
	object []byte
}

// star is the table's "*" entry.
type star struct {
	object  []byte                     // compacted, members in the file's order
	members map[string]json.RawMessage // by name
}

// parseTable reads a table file as the table source does: a JSON object
// whose members are objects; of duplicate keys the last wins. It returns
// the entries other than "*", in the file's order, and "*" (nil without).
func parseTable(raw []byte) ([]entry, *star, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, errors.New("not a JSON object: the table maps each key to an object")
	}
	var out []entry
	index := map[string]int{}
	var def *star
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("at byte %d: %w", dec.InputOffset(), err)
		}
		key := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, fmt.Errorf("entry %q: %w", key, err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, v); err != nil {
			return nil, nil, fmt.Errorf("entry %q: %w", key, err)
		}
		if compact.Len() == 0 || compact.Bytes()[0] != '{' {
			return nil, nil, fmt.Errorf("entry %q is not an object: each entry is the object its tokens get", key)
		}
		if key == "*" {
			def = &star{object: compact.Bytes()}
			if err := json.Unmarshal(compact.Bytes(), &def.members); err != nil {
				return nil, nil, fmt.Errorf("entry %q: %w", key, err)
			}
			continue
		}
		if key == "" {
			return nil, nil, errors.New(`an entry has the empty key, which no token looks up: remove it`)
		}
		if i, ok := index[key]; ok {
			out[i].object = compact.Bytes()
			continue
		}
		index[key] = len(out)
		out = append(out, entry{key: key, object: compact.Bytes()})
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("at byte %d: %w", dec.InputOffset(), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, errors.New("text after the table's object")
	}
	return out, def, nil
}

// load writes the entries under prefix, and def (when not nil) under its
// own key, in one transaction and, with del, deletes in it the keys with
// the prefix that the entries lack. It returns how many keys it deleted.
func load(ctx context.Context, c *redis.Client, prefix string, entries []entry, def *entry, del bool) (int, error) {
	var stale []string
	if del {
		want := map[string]bool{}
		if def != nil {
			want[def.key] = true
		}
		for _, e := range entries {
			want[prefix+e.key] = true
		}
		iter := c.Scan(ctx, 0, escapeGlob(prefix)+"*", 1000).Iterator()
		for iter.Next(ctx) {
			if !want[iter.Val()] {
				stale = append(stale, iter.Val())
			}
		}
		if err := iter.Err(); err != nil {
			return 0, fmt.Errorf("listing the keys %s*: %w", prefix, err)
		}
		slices.Sort(stale)
		stale = slices.Compact(stale)
	}
	_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range entries {
			p.Set(ctx, prefix+e.key, e.object, 0)
		}
		if def != nil {
			p.Set(ctx, def.key, def.object, 0)
		}
		if len(stale) > 0 {
			p.Del(ctx, stale...)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("writing to Redis: %w", err)
	}
	return len(stale), nil
}

// escapeGlob escapes the characters SCAN's MATCH pattern gives a meaning.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// setLines renders the "*" entry's members as token_enrich lines: set for
// strings, set_json for other values, in name order.
func setLines(def map[string]json.RawMessage) []string {
	names := make([]string, 0, len(def))
	for n := range def {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []string
	for _, n := range names {
		var s string
		if json.Unmarshal(def[n], &s) == nil && s != "" && !strings.ContainsAny(s, " \t\"`{}") {
			out = append(out, fmt.Sprintf("set %s %s", n, s))
			continue
		}
		out = append(out, fmt.Sprintf("set_json %s `%s`", n, def[n]))
	}
	return out
}
