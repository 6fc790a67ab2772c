// Validates EPCIS 2.0 documents against GS1's JSON Schema
// (third_party/gs1_epcis), with ajv and ajv-formats (formats checked, as
// GS1's README asks; strict off, as the schema uses keywords ajv's strict
// mode rejects). Prints one line per document, "valid FILE" or "invalid
// FILE: errors"; exits 1 when any is invalid.
//
// Usage: node validate_epcis.js SCHEMA.json DOCUMENT...
// ajv comes from tools/install-deps.sh (/usr/local/share/chemledger/browser-tests),
// found through NODE_PATH.

'use strict';
const fs = require('fs');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');

const [schemaFile, ...documents] = process.argv.slice(2);
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaFile, 'utf8')));
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
  if (validate(doc)) {
    console.log(`valid ${file}`);
  } else {
    ++failed;
    const errors = validate.errors.slice(0, 8)
        .map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
    console.log(`invalid ${file}: ${errors}`);
  }
}
process.exit(failed ? 1 : 0);
