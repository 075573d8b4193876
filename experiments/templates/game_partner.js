// The ClickMe game's network partner in the browser: the ONNX export of
// reveal.models.partner.PartnerNet (reveal.models.partner.export_onnx), run by onnxruntime-web.
// The photograph and the bubble mask go in as they are: the view through the bubbles and the
// network's pre-processing are inside the exported graph, so the browser computes what the lab
// computes, and these functions only lay the pixels out as the graph expects them.

export const FRAME = 256;
export const TOP_K = 5;

// photograph (RGBA as a canvas's ImageData.data, or RGB), and a mask of 0/1 per pixel (row by
// row, 256 x 256) -> the graph's inputs: photo float32 (1, 3, 256, 256) on the 0-255 scale,
// mask float32 (1, 1, 256, 256)
export function partnerInputs(ort, pixels, mask) {
  const n = FRAME * FRAME;
  const channels = pixels.length / n;
  if (channels !== 3 && channels !== 4) {
    throw new Error(`expected ${FRAME}x${FRAME} RGB or RGBA pixels, got ${pixels.length} values`);
  }
  if (mask.length !== n) {
    throw new Error(`expected a ${FRAME}x${FRAME} mask, got ${mask.length} values`);
  }
  const photo = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    photo[i] = pixels[i * channels];
    photo[n + i] = pixels[i * channels + 1];
    photo[2 * n + i] = pixels[i * channels + 2];
  }
  const m = Float32Array.from(mask, (v) => (v ? 1 : 0));
  return {
    photo: new ort.Tensor('float32', photo, [1, 3, FRAME, FRAME]),
    mask: new ort.Tensor('float32', m, [1, 1, FRAME, FRAME]),
  };
}

// the k largest logits' class indices, largest first (ties: the lower index first, as torch.topk
// on the CPU gives them for distinct values)
export function topK(logits, k = TOP_K) {
  const order = Array.from(logits.keys());
  order.sort((a, b) => (logits[b] - logits[a]) || (a - b));
  return order.slice(0, k);
}

export async function loadPartner(ort, modelUrl) {
  return ort.InferenceSession.create(modelUrl, { executionProviders: ['wasm'] });
}

export async function partnerTop(ort, session, pixels, mask, k = TOP_K) {
  const out = await session.run(partnerInputs(ort, pixels, mask));
  return topK(out.logits.data, k);
}
