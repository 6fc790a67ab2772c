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
  // signed it; else null.
  async function open(note, pinned) {
    const split = note.lastIndexOf('\n\n');
    if (split < 0) return null;
    const text = note.slice(0, split + 1);
    for (const line of note.slice(split + 2).split('\n')) {
      if (!line.startsWith('\u2014 ')) continue;
      const [name, signature64] = line.slice(2).split(' ');
      if (name !== pinned.name) continue;
      let signature;
      try { signature = fromBase64(signature64 || ''); } catch (e) { continue; }
      if (signature.length !== 68 || toHex(signature.slice(0, 4)) !== toHex(pinned.hash)) continue;
      if (await crypto.subtle.verify({ name: 'Ed25519' }, pinned.key, signature.slice(4),
                                     utf8.encode(text))) {
        return text;
      }
    }
    return null;
  }

  return { parseVerifierKey, open };
})();
