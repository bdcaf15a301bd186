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
//
// interop -tiles EXPORT VKEYFILE reads a C2SP tlog-tiles export written by saksi
// export-tiles (FORMATS.md 9) through tlog.TileHashReader. See checkTiles.
//
// interop -bundle DIR checks an evidence bundle (FORMATS.md 8) instead, from the spec
// text alone: DIR holds vkey.txt, keyring.json and bundle.json (written by
// tests/bundle_cli_test.c from bundles saksi made). See checkBundle.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
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
	if len(os.Args) == 3 && os.Args[1] == "-bundle" {
		checkBundle(os.Args[2])
		return
	}
	if len(os.Args) == 4 && os.Args[1] == "-tiles" {
		checkTiles(os.Args[2], os.Args[3])
		return
	}
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: interop DIR | interop -bundle DIR | interop -tiles EXPORT VKEYFILE")
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

type bundleEntry struct {
	Index       int64    `json:"index"`
	Leaf        string   `json:"leaf"`
	Proof       []string `json:"proof"`
	Disclosures []string `json:"disclosures"`
	Sealed      *string  `json:"sealed"`
	Forgotten   *bool    `json:"forgotten"`
}

type bundleFile struct {
	Version     int           `json:"saksi_bundle"`
	Mode        string        `json:"mode"`
	CaseRef     string        `json:"case_ref"`
	CreatedMs   uint64        `json:"created_ms"`
	Exporter    string        `json:"exporter"`
	Recipient   *string       `json:"recipient"`
	AccessIndex uint64        `json:"access_index"`
	Selection   string        `json:"selection"`
	Log         string        `json:"log"`
	Checkpoint  string        `json:"checkpoint"`
	Entries     []bundleEntry `json:"entries"`
	Signature   string        `json:"signature"`
}

type keyringFile struct {
	Keys []struct {
		Name      string `json:"name"`
		KeyID     string `json:"key_id"`
		PublicKey string `json:"public_key"`
	} `json:"keys"`
}

// keyringKey returns the Ed25519 key of key id hexid: the last 32 bytes of the 44-byte
// public key blob (FORMATS.md 1.2).
func keyringKey(kr keyringFile, hexid string) (ed25519.PublicKey, string) {
	for _, k := range kr.Keys {
		if k.KeyID == hexid {
			blob, err := base64.StdEncoding.DecodeString(k.PublicKey)
			if err != nil || len(blob) != 44 {
				fail("keyring key %s malformed", k.Name)
			}
			return ed25519.PublicKey(blob[12:]), k.Name
		}
	}
	return nil, ""
}

// checkBundle verifies an evidence bundle by FORMATS.md 8, with tlog and note for the
// tree and the checkpoint and Go's own ed25519 and sha256 for the rest: the checkpoint,
// every inclusion proof, every producer signature, every disclosure's digest in its
// signed payload, and the exporter's signature over the transcript of 8.2.
func checkBundle(dir string) {
	vkey := strings.TrimSpace(string(read(dir, "vkey.txt")))
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		fail("verifier key: %v", err)
	}
	var kr keyringFile
	if err := json.Unmarshal(read(dir, "keyring.json"), &kr); err != nil {
		fail("keyring.json: %v", err)
	}
	var b bundleFile
	dec := json.NewDecoder(bytes.NewReader(read(dir, "bundle.json")))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		fail("bundle.json: %v", err)
	}
	if b.Version != 1 || b.Log != verifier.Name() {
		fail("bundle version %d of log %q", b.Version, b.Log)
	}
	n, err := note.Open([]byte(b.Checkpoint), note.VerifierList(verifier))
	if err != nil {
		fail("bundle checkpoint does not open with x/mod/sumdb/note: %v", err)
	}
	_, size, root := parseCheckpoint(n.Text)

	var t bytes.Buffer
	u8 := func(v uint8) { t.WriteByte(v) }
	u16 := func(v int) { binary.Write(&t, binary.BigEndian, uint16(v)) }
	u32 := func(v int) { binary.Write(&t, binary.BigEndian, uint32(v)) }
	u64 := func(v uint64) { binary.Write(&t, binary.BigEndian, v) }
	hexid := func(s string) []byte {
		if s == "" {
			return make([]byte, 8) // no recipient: zero
		}
		id, err := hex.DecodeString(s)
		if err != nil || len(id) != 8 {
			fail("key id %q", s)
		}
		return id
	}
	t.WriteString("saksi/bundle/v1\n")
	mode := map[string]uint8{"plain": 1, "sealed": 2}[b.Mode]
	if mode == 0 {
		fail("bundle mode %q", b.Mode)
	}
	u8(mode)
	u8(uint8(len(b.CaseRef)))
	t.WriteString(b.CaseRef)
	u64(b.CreatedMs)
	t.Write(hexid(b.Exporter))
	rcpt := ""
	if b.Recipient != nil {
		rcpt = *b.Recipient
	}
	t.Write(hexid(rcpt))
	u64(b.AccessIndex)
	u16(len(b.Selection))
	t.WriteString(b.Selection)
	u8(uint8(len(b.Log)))
	t.WriteString(b.Log)
	u16(len(b.Checkpoint))
	t.WriteString(b.Checkpoint)
	u32(len(b.Entries))
	disclosed := 0
	for _, e := range b.Entries {
		leaf, err := base64.StdEncoding.DecodeString(e.Leaf)
		if err != nil || len(leaf) < 42 {
			fail("bundle entry %d: leaf", e.Index)
		}
		proof := decodeProof(e.Proof)
		if err := tlog.CheckRecord(proof, size, root, e.Index, tlog.RecordHash(leaf)); err != nil {
			fail("bundle entry %d: inclusion proof rejected by tlog: %v", e.Index, err)
		}
		var payload []byte
		if leaf[1] == 1 {
			// The envelope (FORMATS.md 2): its signature over everything before it.
			env := leaf[42:]
			if len(env) < 27+4+64 {
				fail("bundle entry %d: envelope too short", e.Index)
			}
			tl := int(env[26])
			pl := int(binary.BigEndian.Uint32(env[27+tl:]))
			if 27+tl+4+pl+64 != len(env) {
				fail("bundle entry %d: envelope lengths", e.Index)
			}
			payload = env[27+tl+4 : 27+tl+4+pl]
			pk, name := keyringKey(kr, fmt.Sprintf("%x", env[2:10]))
			if pk == nil {
				fail("bundle entry %d: producer key not in the keyring", e.Index)
			}
			msg := append([]byte("saksi/envelope/v1\n"), env[:len(env)-64]...)
			if !ed25519.Verify(pk, msg, env[len(env)-64:]) {
				fail("bundle entry %d: producer signature of %s", e.Index, name)
			}
		}
		u64(uint64(e.Index))
		u16(len(leaf))
		t.Write(leaf)
		u8(uint8(len(proof)))
		for _, h := range proof {
			t.Write(h[:])
		}
		switch {
		case e.Disclosures != nil:
			// Every digest of the signed payload disclosed, nothing else.
			var members map[string]json.RawMessage
			if err := json.Unmarshal(payload, &members); err != nil {
				fail("bundle entry %d: payload: %v", e.Index, err)
			}
			digests := map[string]bool{}
			for _, v := range members {
				var sd struct {
					SD string `json:"_sd"`
				}
				if json.Unmarshal(v, &sd) == nil && sd.SD != "" {
					digests[sd.SD] = true
				}
			}
			if len(digests) != len(e.Disclosures) {
				fail("bundle entry %d: %d digests, %d disclosures", e.Index, len(digests), len(e.Disclosures))
			}
			for _, d := range e.Disclosures {
				h := sha256.Sum256([]byte(d))
				if !digests[base64.RawURLEncoding.EncodeToString(h[:])] {
					fail("bundle entry %d: a disclosure matches no digest", e.Index)
				}
			}
			arr := "[\"" + strings.Join(e.Disclosures, "\",\"") + "\"]"
			u8(1)
			u32(len(arr))
			t.WriteString(arr)
			disclosed++
		case e.Sealed != nil:
			box, err := base64.StdEncoding.DecodeString(*e.Sealed)
			if err != nil {
				fail("bundle entry %d: sealed", e.Index)
			}
			u8(2)
			u32(len(box))
			t.Write(box)
		case e.Forgotten != nil:
			u8(3)
			u32(0)
		default:
			u8(0)
			u32(0)
		}
	}
	pk, name := keyringKey(kr, b.Exporter)
	sig, err := base64.StdEncoding.DecodeString(b.Signature)
	if pk == nil || err != nil {
		fail("bundle exporter %s", b.Exporter)
	}
	d := sha256.Sum256(t.Bytes())
	if !ed25519.Verify(pk, append([]byte("saksi/bundle-sig/v1\n"), d[:]...), sig) {
		fail("bundle exporter signature of %s does not verify over the transcript", name)
	}
	fmt.Printf("interop: ok: bundle of case %s, %d entries proved to the checkpoint of size %d, %d entries' disclosures matched, exporter %s\n",
		b.CaseRef, len(b.Entries), size, disclosed, name)
}

// c2spTilePath is the C2SP tlog-tiles path of t, written from the spec's text: level or
// "entries", N in 3-digit groups all but the last prefixed with x, ".p/W" if partial.
func c2spTilePath(t tlog.Tile) string {
	level := strconv.Itoa(t.L)
	if t.L == -1 {
		level = "entries"
	}
	n := t.N
	groups := []string{fmt.Sprintf("%03d", n%1000)}
	for n /= 1000; n > 0; n /= 1000 {
		groups = append([]string{fmt.Sprintf("x%03d", n%1000)}, groups...)
	}
	p := "tile/" + level + "/" + strings.Join(groups, "/")
	if t.W < 1<<t.H {
		p += ".p/" + strconv.Itoa(t.W)
	}
	return p
}

// exportTiles is a tlog.TileReader over a saksi export: tlog's Tile names the height
// in its path (tile/8/L/N), C2SP does not (tile/L/N); the hashes are the same.
type exportTiles struct{ dir string }

func (e exportTiles) Height() int { return 8 }

func (e exportTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		p := c2spTilePath(t)
		// Our path and tlog's own, with its height dropped, must agree.
		if t.L >= 0 && "tile/"+strings.TrimPrefix(t.Path(), "tile/8/") != p {
			return nil, fmt.Errorf("path %s is not tlog's %s", p, t.Path())
		}
		b, err := os.ReadFile(filepath.Join(e.dir, p))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func (e exportTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// checkTiles reads a tile export as a client of any tlog-tiles log would: the
// checkpoint with note, every hash tile through tlog.TileHashReader (which checks each
// tile against the checkpoint's tree), every entry bundle with tlog.RecordHash against
// the level 0 hashes, saksi's prev_root chain with tlog.TreeHash, and inclusion and
// consistency proofs that tlog builds from the tiles and checks.
func checkTiles(dir, vkeyFile string) {
	vkey := strings.TrimSpace(string(read(filepath.Dir(vkeyFile), filepath.Base(vkeyFile))))
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		fail("verifier key: %v", err)
	}
	n, err := note.Open(read(dir, "checkpoint"), note.VerifierList(verifier))
	if err != nil {
		fail("checkpoint does not open with x/mod/sumdb/note: %v", err)
	}
	origin, size, root := parseCheckpoint(n.Text)
	if origin != verifier.Name() {
		fail("checkpoint origin %q is not the key name %q", origin, verifier.Name())
	}
	if size == 0 {
		// RFC 9162's MTH({}); tlog.TreeHash(0) is the zero hash (a Go convention).
		if root != tlog.Hash(sha256.Sum256(nil)) {
			fail("checkpoint of the empty tree with a root other than SHA-256(\"\")")
		}
		fmt.Printf("interop: ok tiles: the empty tree\n")
		return
	}
	tree := tlog.Tree{N: size, Hash: root}
	hr := tlog.TileHashReader(tree, exportTiles{dir})
	if th, err := tlog.TreeHash(size, hr); err != nil || th != root {
		fail("tlog's root of the tiles is %v, not the checkpoint's (%v)", th, err)
	}
	// Every tile the tree needs, by tlog's own enumeration, is there at its C2SP path.
	// (tlog lists the partial tile of every width up to the tree's, as sumdb publishes
	// them; C2SP needs those of the sizes the log signed, the tree's own among them.)
	tiles := 0
	for _, t := range tlog.NewTiles(8, 0, size) {
		if t.W != 256 && int64(t.W) != (size>>(8*t.L))%256 {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, c2spTilePath(t))); err != nil {
			fail("tile %s: %v", t.Path(), err)
		}
		tiles++
	}
	idx := make([]int64, size)
	for i := int64(0); i < size; i++ {
		idx[i] = tlog.StoredHashIndex(0, i)
	}
	leafHashes, err := hr.ReadHashes(idx)
	if err != nil {
		fail("level 0 hashes: %v", err)
	}
	var entries [][]byte
	for start := int64(0); start < size; start += 256 {
		w := size - start
		if w > 256 {
			w = 256
		}
		t := tlog.Tile{H: 8, L: -1, N: start / 256, W: int(w)}
		data := read(dir, c2spTilePath(t))
		for k := int64(0); k < w; k++ {
			if len(data) < 2 {
				fail("bundle %s: entry %d missing", c2spTilePath(t), start+k)
			}
			l := int(binary.BigEndian.Uint16(data))
			if len(data) < 2+l {
				fail("bundle %s: entry %d truncated", c2spTilePath(t), start+k)
			}
			e := data[2 : 2+l]
			data = data[2+l:]
			if tlog.RecordHash(e) != leafHashes[start+k] {
				fail("entry %d: its record hash is not the level 0 tile's", start+k)
			}
			entries = append(entries, e)
		}
		if len(data) != 0 {
			fail("bundle %s: %d bytes after its %d entries", c2spTilePath(t), len(data), w)
		}
	}
	// Each tile, byte for byte, is the one tlog builds from the entries themselves (the
	// Debian x/mod's tileHashReader may skip authenticating a full tile against its
	// parent when the tree hash spans fewer tiles than subtrees: not relied upon).
	var mem memHashes
	for i, e := range entries {
		add, err := tlog.StoredHashes(int64(i), e, mem)
		if err != nil {
			fail("stored hashes %d: %v", i, err)
		}
		mem = append(mem, add...)
	}
	for _, t := range tlog.NewTiles(8, 0, size) {
		if t.W != 256 && int64(t.W) != (size>>(8*t.L))%256 {
			continue
		}
		want, err := tlog.ReadTileData(t, mem)
		if err != nil {
			fail("tile %s from the entries: %v", t.Path(), err)
		}
		if !bytes.Equal(want, read(dir, c2spTilePath(t))) {
			fail("tile %s is not the tile of the entries", c2spTilePath(t))
		}
	}
	for i, e := range entries {
		if len(e) < 42 {
			fail("entry %d shorter than a leaf header", i)
		}
		prev := tlog.Hash(sha256.Sum256(nil))
		if i > 0 {
			if prev, err = tlog.TreeHash(int64(i), hr); err != nil {
				fail("tree hash %d: %v", i, err)
			}
		}
		if !bytes.Equal(prev[:], e[10:42]) {
			fail("entry %d: prev_root is not tlog's root of the %d entries before it", i, i)
		}
	}
	proofs := 0
	for i := int64(0); i < size; i += 1 + i/3 {
		p, err := tlog.ProveRecord(size, i, hr)
		if err != nil {
			fail("inclusion proof of %d from the tiles: %v", i, err)
		}
		if err := tlog.CheckRecord(p, size, root, i, tlog.RecordHash(entries[i])); err != nil {
			fail("inclusion proof of %d: %v", i, err)
		}
		if i > 0 {
			old, err := tlog.TreeHash(i, hr)
			if err != nil {
				fail("tree hash %d: %v", i, err)
			}
			cp, err := tlog.ProveTree(size, i, hr)
			if err != nil {
				fail("consistency proof %d..%d from the tiles: %v", i, size, err)
			}
			if err := tlog.CheckTree(cp, size, root, i, old); err != nil {
				fail("consistency proof %d..%d: %v", i, size, err)
			}
		}
		proofs++
	}
	fmt.Printf("interop: ok tiles: %d entries, %d tiles, %d inclusion and consistency proofs\n",
		size, tiles, proofs)
}
