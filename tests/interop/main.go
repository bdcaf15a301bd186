// Command interop checks saksi's ledger artefacts with code we did not write:
// golang.org/x/mod/sumdb/note (C2SP signed notes) and golang.org/x/mod/sumdb/tlog
// (RFC 6962/9162 tree hashes and proofs). It only reads the directory it is given,
// except for the note it signs itself (go-note.txt, go-vkey.txt) for the reverse check.
//
// Input directory (written by tests/interop_test.c from a real saksi ledger):
//   vkey.txt        the log's verifier key
//   checkpoint.txt  the latest signed checkpoint
//   leaves.bin      every leaf: u32 big-endian length || exact leaf bytes
//   proofs.json     {"roots": {"<size>": "<b64>"}, "inclusion": [...], "consistency": [...]}
//   receipts.json   [{"receipt": "<tlog-proof text>", "envelope": "<b64>"}]
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type inclusion struct {
	Index int64    `json:"index"`
	Size  int64    `json:"size"`
	Proof []string `json:"proof"`
}

type consistency struct {
	M     int64    `json:"m"`
	N     int64    `json:"n"`
	Proof []string `json:"proof"`
}

type proofs struct {
	Roots       map[string]string `json:"roots"`
	Inclusion   []inclusion       `json:"inclusion"`
	Consistency []consistency     `json:"consistency"`
}

type receipt struct {
	Receipt  string `json:"receipt"`
	Envelope string `json:"envelope"`
}

// memHashes is the tlog.HashReader over hashes that Go computed itself from the leaves.
type memHashes []tlog.Hash

func (m memHashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("hash index %d out of range", x)
		}
		out[i] = m[x]
	}
	return out, nil
}

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "interop: FAIL: "+format+"\n", a...)
	os.Exit(1)
}

func decodeHash(s string) tlog.Hash {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != tlog.HashSize {
		fail("bad hash %q", s)
	}
	var h tlog.Hash
	copy(h[:], b)
	return h
}

func decodeProof(lines []string) []tlog.Hash {
	p := make([]tlog.Hash, len(lines))
	for i, s := range lines {
		p[i] = decodeHash(s)
	}
	return p
}

func read(dir, name string) []byte {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		fail("%v", err)
	}
	return b
}

// parseCheckpoint parses a tlog-checkpoint body by the C2SP text, independently of ours.
func parseCheckpoint(text string) (string, int64, tlog.Hash) {
	lines := strings.Split(text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		fail("checkpoint body malformed: %q", text)
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != lines[1] {
		fail("checkpoint size malformed: %q", lines[1])
	}
	return lines[0], n, decodeHash(lines[2])
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: interop DIR")
		os.Exit(2)
	}
	dir := os.Args[1]

	vkey := strings.TrimSpace(string(read(dir, "vkey.txt")))
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		fail("verifier key: %v", err)
	}
	verifiers := note.VerifierList(verifier)
	n, err := note.Open(read(dir, "checkpoint.txt"), verifiers)
	if err != nil {
		fail("checkpoint does not open with x/mod/sumdb/note: %v", err)
	}
	origin, size, root := parseCheckpoint(n.Text)
	if origin != verifier.Name() {
		fail("checkpoint origin %q is not the key name %q", origin, verifier.Name())
	}

	// Rebuild the whole tree from the exact leaf bytes with tlog's own hashing.
	raw := read(dir, "leaves.bin")
	var leaves [][]byte
	var hashes memHashes
	for len(raw) > 0 {
		if len(raw) < 4 {
			fail("leaves.bin truncated")
		}
		l := int(binary.BigEndian.Uint32(raw))
		if len(raw) < 4+l {
			fail("leaves.bin truncated")
		}
		leaf := raw[4 : 4+l]
		raw = raw[4+l:]
		i := int64(len(leaves))
		if len(leaf) < 42 {
			fail("leaf %d shorter than its header", i)
		}
		// Each leaf commits to the root of the tree before it (saksi's chain). For the
		// empty tree that is RFC 9162's MTH({}) = SHA-256(""), which FORMATS.md 4 names;
		// tlog.TreeHash(0) returns the zero hash instead (a Go convention, not the RFC).
		prev := tlog.Hash(sha256.Sum256(nil))
		if i > 0 {
			if prev, err = tlog.TreeHash(i, hashes); err != nil {
				fail("tree hash %d: %v", i, err)
			}
		}
		if !bytes.Equal(prev[:], leaf[10:42]) {
			fail("leaf %d: prev_root differs from tlog's root of size %d", i, i)
		}
		add, err := tlog.StoredHashes(i, leaf, hashes)
		if err != nil {
			fail("stored hashes %d: %v", i, err)
		}
		hashes = append(hashes, add...)
		leaves = append(leaves, leaf)
	}
	if int64(len(leaves)) != size {
		fail("checkpoint size %d, but %d leaves", size, len(leaves))
	}
	th, err := tlog.TreeHash(size, hashes)
	if err != nil || th != root {
		fail("checkpoint root %v, tlog computes %v (%v)", root, th, err)
	}

	var p proofs
	if err := json.Unmarshal(read(dir, "proofs.json"), &p); err != nil {
		fail("proofs.json: %v", err)
	}
	for s, r := range p.Roots {
		sz, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fail("bad size %q", s)
		}
		th, err := tlog.TreeHash(sz, hashes)
		if err != nil || th != decodeHash(r) {
			fail("root of size %d: saksi %s, tlog %v", sz, r, th)
		}
	}
	for _, c := range p.Inclusion {
		th, err := tlog.TreeHash(c.Size, hashes)
		if err != nil {
			fail("tree hash %d: %v", c.Size, err)
		}
		proof := decodeProof(c.Proof)
		if err := tlog.CheckRecord(proof, c.Size, th, c.Index, tlog.RecordHash(leaves[c.Index])); err != nil {
			fail("inclusion proof of %d in %d rejected: %v", c.Index, c.Size, err)
		}
		want, err := tlog.ProveRecord(c.Size, c.Index, hashes)
		if err != nil || len(want) != len(proof) {
			fail("inclusion proof of %d in %d differs from tlog's", c.Index, c.Size)
		}
		for i := range want {
			if want[i] != proof[i] {
				fail("inclusion proof of %d in %d differs from tlog's at %d", c.Index, c.Size, i)
			}
		}
	}
	for _, c := range p.Consistency {
		thm, _ := tlog.TreeHash(c.M, hashes)
		thn, _ := tlog.TreeHash(c.N, hashes)
		proof := decodeProof(c.Proof)
		if err := tlog.CheckTree(proof, c.N, thn, c.M, thm); err != nil {
			fail("consistency proof %d..%d rejected: %v", c.M, c.N, err)
		}
		want, err := tlog.ProveTree(c.N, c.M, hashes)
		if err != nil || len(want) != len(proof) {
			fail("consistency proof %d..%d differs from tlog's", c.M, c.N)
		}
		for i := range want {
			if want[i] != proof[i] {
				fail("consistency proof %d..%d differs from tlog's at %d", c.M, c.N, i)
			}
		}
	}

	// Receipts (C2SP tlog-proof@v1), parsed here by the spec text alone.
	var rs []receipt
	if err := json.Unmarshal(read(dir, "receipts.json"), &rs); err != nil {
		fail("receipts.json: %v", err)
	}
	for k, r := range rs {
		head, ckpt, ok := strings.Cut(r.Receipt, "\n\n")
		if !ok {
			fail("receipt %d: no blank line", k)
		}
		lines := strings.Split(head, "\n")
		if lines[0] != "c2sp.org/tlog-proof@v1" || len(lines) < 3 ||
			!strings.HasPrefix(lines[1], "extra ") || !strings.HasPrefix(lines[2], "index ") {
			fail("receipt %d: bad header %q", k, head)
		}
		extra, err := base64.StdEncoding.DecodeString(lines[1][6:])
		if err != nil {
			fail("receipt %d: extra: %v", k, err)
		}
		idx, err := strconv.ParseInt(lines[2][6:], 10, 64)
		if err != nil {
			fail("receipt %d: index: %v", k, err)
		}
		env, err := base64.StdEncoding.DecodeString(r.Envelope)
		if err != nil {
			fail("receipt %d: envelope: %v", k, err)
		}
		cn, err := note.Open([]byte(ckpt), verifiers)
		if err != nil {
			fail("receipt %d: checkpoint: %v", k, err)
		}
		_, rsize, rroot := parseCheckpoint(cn.Text)
		leaf := append(append([]byte{}, extra...), env...)
		if err := tlog.CheckRecord(decodeProof(lines[3:]), rsize, rroot, idx, tlog.RecordHash(leaf)); err != nil {
			fail("receipt %d: inclusion: %v", k, err)
		}
	}

	// Reverse direction: a note signed here, for saksi to verify.
	skey, gvkey, err := note.GenerateKey(rand.Reader, "interop.example/go-signer")
	if err != nil {
		fail("generate key: %v", err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		fail("signer: %v", err)
	}
	body := fmt.Sprintf("interop.example/go-signer\n%d\n%s\n", size, base64.StdEncoding.EncodeToString(root[:]))
	msg, err := note.Sign(&note.Note{Text: body}, signer)
	if err != nil {
		fail("sign: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go-note.txt"), msg, 0o644); err != nil {
		fail("%v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go-vkey.txt"), []byte(gvkey+"\n"), 0o644); err != nil {
		fail("%v", err)
	}
	fmt.Printf("interop: ok: %d leaves, root, %d roots, %d inclusion and %d consistency proofs, %d receipts checked by golang.org/x/mod/sumdb\n",
		len(leaves), len(p.Roots), len(p.Inclusion), len(p.Consistency), len(rs))
}
