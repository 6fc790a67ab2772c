// C2SP signed notes (docs/checkpoint-format.md) in the browser, for the
// staff app (the label keys' trust list) and the regulator console (the
// log's checkpoints): a verifier key's parse and a note's signature check,
// with WebCrypto's Ed25519. Served beside each page's own script
// (/app/signed_note.js, /console/signed_note.js) and loaded before it.
'use strict';

const SignedNote = (() => {
  const utf8 = new TextEncoder();
  const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

  // A verifier key, "<name>+<8 hex key hash>+<base64(0x01 || key)>":
  // {name, hash (4 bytes), key (a CryptoKey that verifies)}; throws saying
  // what is wrong.
  async function parseVerifierKey(text) {
    // The name holds no '+'; the base64 key may.
    const first = text.indexOf('+');
    const second = first < 0 ? -1 : text.indexOf('+', first + 1);
    if (second < 0) throw new Error('not a verifier key (name+hash+key)');
    const name = text.slice(0, first), hash = text.slice(first + 1, second);
    const raw = fromBase64(text.slice(second + 1));
    if (raw.length !== 33 || raw[0] !== 1) throw new Error('not an Ed25519 note key');
    const named = new Uint8Array(utf8.encode(name + '\n').length + raw.length);
    named.set(utf8.encode(name + '\n'));
    named.set(raw, named.length - raw.length);
    const want = new Uint8Array(await crypto.subtle.digest('SHA-256', named)).slice(0, 4);
    if (toHex(want) !== hash) throw new Error('the key hash does not match the name and key');
    const key = await crypto.subtle.importKey('raw', raw.slice(1), { name: 'Ed25519' }, false,
                                              ['verify']);
    return { name, hash: want, key };
  }

  // The text of `note` (everything before its last blank line, with the
  // newline of its last line) if the key `pinned` (parseVerifierKey's)
  // signed it; else null. Read as crypto/checkpoint.cc reads a note: every
  // signature line well-formed ("\u2014 <name> <base64 of more than 4
  // bytes>", the name without '+'), and the first line of the pinned name
  // and key hash decides.
  async function open(note, pinned) {
    const split = note.lastIndexOf('\n\n');
    if (split < 0 || !note.endsWith('\n')) return null;
    const text = note.slice(0, split + 1);
    let first = null;
    for (const line of note.slice(split + 2, -1).split('\n')) {
      const m = /^\u2014 ([^\s+]+) (\S+)$/.exec(line);
      if (!m) return null;
      let signature;
      try { signature = fromBase64(m[2]); } catch (e) { return null; }
      if (signature.length <= 4) return null;
      if (first === null && m[1] === pinned.name &&
          toHex(signature.slice(0, 4)) === toHex(pinned.hash)) {
        first = signature;
      }
    }
    if (first === null || first.length !== 68) return null;
    return await crypto.subtle.verify({ name: 'Ed25519' }, pinned.key, first.slice(4),
                                      utf8.encode(text))
               ? text
               : null;
  }

  return { parseVerifierKey, open };
})();
