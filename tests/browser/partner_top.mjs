// The game's partner in onnxruntime-web (its wasm backend, under node): top-5 of saved cases.
// usage: node partner_top.mjs MODEL.onnx CASES_DIR N  -> prints a JSON list of top-5 lists
// CASES_DIR holds photo_<i>.rgb (256*256*3 bytes) and mask_<i>.u8 (256*256 bytes of 0/1).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';

const [modelPath, casesDir, count] = process.argv.slice(2);
const partnerJs = process.env.REVEAL_PARTNER_JS;  // the export's own module (package data)
const { loadPartner, partnerTop } = await import(partnerJs);
ort.env.wasm.numThreads = 1;
const session = await loadPartner(ort, readFileSync(modelPath));
const tops = [];
for (let i = 0; i < Number(count); i++) {
  const photo = new Uint8Array(readFileSync(join(casesDir, `photo_${i}.rgb`)));
  const mask = new Uint8Array(readFileSync(join(casesDir, `mask_${i}.u8`)));
  tops.push(await partnerTop(ort, session, photo, mask));
}
console.log(JSON.stringify(tops));
