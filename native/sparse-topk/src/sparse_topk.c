/*
 * Sparse TopK kernels for SAE training (see src-main/core/sae/sparse-topk.ts for the maths and the
 * pure-JS twin). Every sum runs in a fixed order in float32 without FMA contraction
 * (-ffp-contract=off), so the results equal the JS fallback bit for bit. Each output element has
 * exactly one writer (a decoded row, or one feature's gradient row gathered through a per-feature
 * list of active entries), so no scatter-add races exist and any future threading over rows or
 * features keeps the numbers.
 */
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                      \
  do {                                                                   \
    if ((call) != napi_ok) {                                             \
      napi_throw_error(env, NULL, "sparse_topk: bad arguments");         \
      return NULL;                                                       \
    }                                                                    \
  } while (0)

static int typed(napi_env env, napi_value v, napi_typedarray_type want, void** data, size_t* len) {
  napi_typedarray_type t;
  napi_value buf;
  size_t off;
  if (napi_get_typedarray_info(env, v, &t, len, data, &buf, &off) != napi_ok) return 0;
  return t == want;
}

/* decode(vals[B*k], idx[B*k], wDec[F*D], bDec[D], out[B*D], k) */
static napi_value decode(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value a[6];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  float *vals, *w, *b, *out;
  int32_t* idx;
  size_t nv, ni, nw, nb, no;
  int32_t k;
  if (argc < 6 || !typed(env, a[0], napi_float32_array, (void**)&vals, &nv) || !typed(env, a[1], napi_int32_array, (void**)&idx, &ni) ||
      !typed(env, a[2], napi_float32_array, (void**)&w, &nw) || !typed(env, a[3], napi_float32_array, (void**)&b, &nb) ||
      !typed(env, a[4], napi_float32_array, (void**)&out, &no) || napi_get_value_int32(env, a[5], &k) != napi_ok || k <= 0) {
    napi_throw_type_error(env, NULL, "sparse_topk.decode(vals, idx, wDec, bDec, out, k): wrong argument types");
    return NULL;
  }
  size_t D = nb, B = nv / (size_t)k, F = nw / D;
  for (size_t r = 0; r < B; r++) {
    float* o = out + r * D;
    memcpy(o, b, D * sizeof(float));
    for (int32_t j = 0; j < k; j++) {
      int32_t f = idx[r * k + j];
      float v = vals[r * k + j];
      if (f < 0 || (size_t)f >= F) continue; /* validated by the caller */
      const float* row = w + (size_t)f * D;
      for (size_t d = 0; d < D; d++) o[d] = o[d] + v * row[d];
    }
  }
  return NULL;
}

/* Entries (row, slot) grouped by feature in (row, slot) order: a counting sort, stable. */
static int group(const int32_t* idx, size_t n, size_t F, int32_t** start, int32_t** order) {
  *start = calloc(F + 1, sizeof(int32_t));
  *order = malloc((n ? n : 1) * sizeof(int32_t));
  int32_t* fill = malloc((F + 1) * sizeof(int32_t));
  if (!*start || !*order || !fill) return 0;
  for (size_t e = 0; e < n; e++) (*start)[idx[e] + 1]++;
  for (size_t f = 0; f < F; f++) (*start)[f + 1] += (*start)[f];
  memcpy(fill, *start, (F + 1) * sizeof(int32_t));
  for (size_t e = 0; e < n; e++) (*order)[fill[idx[e]]++] = (int32_t)e;
  free(fill);
  return 1;
}

/*
 * grads(x[B*D], vals[B*k], gVals[B*k], idx[B*k], gOut[B*D], gWdec[F*D], gWencT[F*D], k)
 * gWdec[f,:] = sum over entries e with idx[e]=f of vals[e] * gOut[row(e),:]
 * gWencT[f,:] = sum over the same entries of gVals[e] * x[row(e),:]   (W_enc transposed, [F, D])
 * Only rows of active features are written; the caller zeroes the outputs.
 */
static napi_value grads(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value a[8];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  float *x, *vals, *gv, *gOut, *gDec, *gEnc;
  int32_t* idx;
  size_t nx, nv, ngv, ni, ngo, ngd, nge;
  int32_t k;
  if (argc < 8 || !typed(env, a[0], napi_float32_array, (void**)&x, &nx) || !typed(env, a[1], napi_float32_array, (void**)&vals, &nv) ||
      !typed(env, a[2], napi_float32_array, (void**)&gv, &ngv) || !typed(env, a[3], napi_int32_array, (void**)&idx, &ni) ||
      !typed(env, a[4], napi_float32_array, (void**)&gOut, &ngo) || !typed(env, a[5], napi_float32_array, (void**)&gDec, &ngd) ||
      !typed(env, a[6], napi_float32_array, (void**)&gEnc, &nge) || napi_get_value_int32(env, a[7], &k) != napi_ok || k <= 0) {
    napi_throw_type_error(env, NULL, "sparse_topk.grads(x, vals, gVals, idx, gOut, gWdec, gWencT, k): wrong argument types");
    return NULL;
  }
  size_t B = nv / (size_t)k, D = nx / (B ? B : 1), F = ngd / (D ? D : 1);
  int32_t *start, *order;
  if (!group(idx, ni, F, &start, &order)) {
    napi_throw_error(env, NULL, "sparse_topk.grads: out of memory");
    return NULL;
  }
  for (size_t f = 0; f < F; f++) {
    float* gd = gDec + f * D;
    float* ge = gEnc + f * D;
    for (int32_t p = start[f]; p < start[f + 1]; p++) {
      int32_t e = order[p];
      size_t r = (size_t)e / (size_t)k;
      float v = vals[e], g = gv[e];
      const float* go = gOut + r * D;
      const float* xr = x + r * D;
      for (size_t d = 0; d < D; d++) {
        gd[d] = gd[d] + v * go[d];
        ge[d] = ge[d] + g * xr[d];
      }
    }
  }
  free(start);
  free(order);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"decode", NULL, decode, NULL, NULL, NULL, napi_default, NULL},
      {"grads", NULL, grads, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 2, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
