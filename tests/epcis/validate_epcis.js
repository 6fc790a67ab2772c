// Checks EPCIS 2.0 documents two ways, offline:
//   - against GS1's JSON Schema (third_party/gs1_epcis), with ajv and
//     ajv-formats (formats checked, as GS1's README asks; strict off, as the
//     schema uses keywords ajv's strict mode rejects);
//   - as JSON-LD: expanded with GS1's context (served from the file given,
//     nothing fetched) in jsonld's safe mode, which fails on any property
//     that does not expand to an IRI (a term the contexts do not define).
// Prints one line per document, "valid FILE" or "invalid FILE: why"; exits
// 1 when any is invalid.
//
// Usage: node validate_epcis.js SCHEMA.json CONTEXT.jsonld DOCUMENT...
// ajv and jsonld come from tools/install-deps.sh
// (/usr/local/share/chemledger/browser-tests), found through NODE_PATH.

'use strict';
const fs = require('fs');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');
const jsonld = require('jsonld');

const GS1_CONTEXTS = [
  'https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld',
  'https://ref.gs1.org/standards/epcis/epcis-context.jsonld',
];

async function main() {
  const [schemaFile, contextFile, ...documents] = process.argv.slice(2);
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaFile, 'utf8')));
  const context = JSON.parse(fs.readFileSync(contextFile, 'utf8'));
  const documentLoader = async (url) => {
    if (GS1_CONTEXTS.includes(url)) return { contextUrl: null, document: context, documentUrl: url };
    throw new Error(`offline: no document ${url}`);
  };
  let failed = 0;
  for (const file of documents) {
    let doc;
    try {
      doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      console.log(`invalid ${file}: not JSON: ${e.message}`);
      ++failed;
      continue;
    }
    if (!validate(doc)) {
      ++failed;
      const errors = validate.errors.slice(0, 8)
          .map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
      console.log(`invalid ${file}: schema: ${errors}`);
      continue;
    }
    try {
      await jsonld.expand(doc, { documentLoader, safe: true });
    } catch (e) {
      ++failed;
      const details = e.details && e.details.event ? e.details.event.details : e.details;
      console.log(`invalid ${file}: JSON-LD: ${e.message} ${JSON.stringify(details || {})}`);
      continue;
    }
    console.log(`valid ${file}`);
  }
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(2);
});
