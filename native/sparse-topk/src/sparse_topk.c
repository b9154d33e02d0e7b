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
#include <math.h>
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


/* Entry lists for the trainer (src-main/core/sae/sparse-train.ts): entry e sits in row rows[e] at feature idx[e]. */
#define ARGS(n)                                                   \
  size_t argc = (n);                                              \
  napi_value a[(n)];                                              \
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));       \
  if (argc < (n)) {                                               \
    napi_throw_type_error(env, NULL, "sparse_topk: too few arguments"); \
    return NULL;                                                  \
  }
#define F32(i, p, n)                                                                    \
  if (!typed(env, a[i], napi_float32_array, (void**)&(p), &(n))) {                      \
    napi_throw_type_error(env, NULL, "sparse_topk: argument " #i " must be a Float32Array"); \
    return NULL;                                                                        \
  }
#define I32(i, p, n)                                                                    \
  if (!typed(env, a[i], napi_int32_array, (void**)&(p), &(n))) {                        \
    napi_throw_type_error(env, NULL, "sparse_topk: argument " #i " must be an Int32Array"); \
    return NULL;                                                                        \
  }

/* decodeRows(rows, idx, vals, w[F*D], out[R*D], D): out[rows[e]] += vals[e] * w[idx[e]] in entry order. */
static napi_value decode_rows(napi_env env, napi_callback_info info) {
  ARGS(6);
  int32_t *rows, *idx;
  float *vals, *w, *out;
  size_t nr, ni, nv, nw, no;
  int32_t D;
  I32(0, rows, nr); I32(1, idx, ni); F32(2, vals, nv); F32(3, w, nw); F32(4, out, no);
  if (napi_get_value_int32(env, a[5], &D) != napi_ok || D <= 0 || nr != ni || ni != nv) {
    napi_throw_type_error(env, NULL, "sparse_topk.decodeRows: mismatched arguments");
    return NULL;
  }
  for (size_t e = 0; e < ni; e++) {
    float* o = out + (size_t)rows[e] * D;
    const float* row = w + (size_t)idx[e] * D;
    float v = vals[e];
    for (int32_t d = 0; d < D; d++) o[d] = o[d] + v * row[d];
  }
  return NULL;
}

/* dotRows(rows, idx, g[R*D], w[F*D], out[n], D): out[e] = g[rows[e]] . w[idx[e]], summed over d in order. */
static napi_value dot_rows(napi_env env, napi_callback_info info) {
  ARGS(6);
  int32_t *rows, *idx;
  float *g, *w, *out;
  size_t nr, ni, ng, nw, no;
  int32_t D;
  I32(0, rows, nr); I32(1, idx, ni); F32(2, g, ng); F32(3, w, nw); F32(4, out, no);
  if (napi_get_value_int32(env, a[5], &D) != napi_ok || D <= 0 || nr != ni || no < ni) {
    napi_throw_type_error(env, NULL, "sparse_topk.dotRows: mismatched arguments");
    return NULL;
  }
  for (size_t e = 0; e < ni; e++) {
    const float* gr = g + (size_t)rows[e] * D;
    const float* row = w + (size_t)idx[e] * D;
    float s = 0.0f;
    for (int32_t d = 0; d < D; d++) s = s + gr[d] * row[d];
    out[e] = s;
  }
  return NULL;
}

typedef struct {
  float lr, b1, b2, omb1, omb2, bc1, bc2, eps;
} adam_h;

/* One Adam step on n elements with gradient g, in the training graph's order of float32 operations. */
static void adam(float* p, float* m, float* v, const float* g, size_t n, const adam_h* h) {
  for (size_t i = 0; i < n; i++) {
    float mo = m[i] * h->b1, mn = g[i] * h->omb1;
    float m1 = mo + mn;
    float g2 = g[i] * g[i];
    float vo = v[i] * h->b2, vn = g2 * h->omb2;
    float v1 = vo + vn;
    float mh = m1 / h->bc1, vh = v1 / h->bc2;
    float den = sqrtf(vh) + h->eps;
    float dir = mh / den;
    float st = dir * h->lr;
    m[i] = m1;
    v[i] = v1;
    p[i] = p[i] - st;
  }
}

/*
 * adamRows(B, rows, idx, vals, gpre, auxRows, auxIdx, auxVals, auxGpre, g[B*Do], ga[B*Do], xc[B*Di],
 *          wDec, mDec, vDec [F*Do], wEncT, mEncT, vEncT [F*Di], hyper, gbEnc[F], gbDecIn[Di])
 * Per feature f, in feature order: its gradient rows gathered from its entries (main entries in
 * order, then AuxK entries), dW_dec[f] = sum vals_e g[row_e] (ga for AuxK), dW_encT[f] = sum gpre_e
 * xc[row_e]; gbEnc[f] = sum gpre_e; gbDecIn += gbEnc[f] * W_encT[f] (before the update); then Adam
 * on both rows and, when hyper[8] is 1, the decoder row renormalised to unit norm. Gradients never
 * exist as [F, D] matrices, and each row has one writer.
 */
static napi_value adam_rows(napi_env env, napi_callback_info info) {
  ARGS(21);
  int32_t B;
  int32_t *rows, *idx, *arows, *aidx;
  float *vals, *gp, *avals, *agp, *g, *ga, *xc, *wd, *md, *vd, *we, *me, *ve, *hy, *gbe, *gbd;
  size_t nr, ni, nv, ngp, nar, nai, nav, nagp, ng, nga, nxc, nwd, nmd, nvd, nwe, nme, nve, nhy, ngbe, ngbd;
  if (napi_get_value_int32(env, a[0], &B) != napi_ok || B <= 0) {
    napi_throw_type_error(env, NULL, "sparse_topk.adamRows: B must be a positive integer");
    return NULL;
  }
  I32(1, rows, nr); I32(2, idx, ni); F32(3, vals, nv); F32(4, gp, ngp);
  I32(5, arows, nar); I32(6, aidx, nai); F32(7, avals, nav); F32(8, agp, nagp);
  F32(9, g, ng); F32(10, ga, nga); F32(11, xc, nxc);
  F32(12, wd, nwd); F32(13, md, nmd); F32(14, vd, nvd); F32(15, we, nwe); F32(16, me, nme); F32(17, ve, nve);
  F32(18, hy, nhy); F32(19, gbe, ngbe); F32(20, gbd, ngbd);
  size_t Do = ng / (size_t)B, Di = nxc / (size_t)B, F = ngbe;
  if (nhy < 9 || nr != ni || ni != nv || nv != ngp || nar != nai || nai != nav || nav != nagp || F == 0 || nwd != F * Do ||
      nmd != nwd || nvd != nwd || nwe != F * Di || nme != nwe || nve != nwe || ngbd != Di || (nai > 0 && nga != ng)) {
    napi_throw_type_error(env, NULL, "sparse_topk.adamRows: mismatched arguments");
    return NULL;
  }
  adam_h h = {hy[0], hy[1], hy[2], hy[3], hy[4], hy[5], hy[6], hy[7]};
  int normalize = hy[8] != 0.0f;
  size_t n = ni + nai;
  int32_t* start = calloc(F + 1, sizeof(int32_t));
  int32_t* fill = malloc((F + 1) * sizeof(int32_t));
  int32_t* order = malloc((n ? n : 1) * sizeof(int32_t));
  float* gd = malloc(Do * sizeof(float));
  float* ge = malloc(Di * sizeof(float));
  if (!start || !fill || !order || !gd || !ge) {
    free(start); free(fill); free(order); free(gd); free(ge);
    napi_throw_error(env, NULL, "sparse_topk.adamRows: out of memory");
    return NULL;
  }
  for (size_t e = 0; e < n; e++) {
    int32_t f = e < ni ? idx[e] : aidx[e - ni];
    if (f < 0 || (size_t)f >= F) f = 0; /* validated by the caller */
    start[f + 1]++;
  }
  for (size_t f = 0; f < F; f++) start[f + 1] += start[f];
  memcpy(fill, start, (F + 1) * sizeof(int32_t));
  for (size_t e = 0; e < n; e++) {
    int32_t f = e < ni ? idx[e] : aidx[e - ni];
    if (f < 0 || (size_t)f >= F) f = 0;
    order[fill[f]++] = (int32_t)e;
  }
  memset(gbd, 0, Di * sizeof(float));
  for (size_t f = 0; f < F; f++) {
    memset(gd, 0, Do * sizeof(float));
    memset(ge, 0, Di * sizeof(float));
    float gb = 0.0f;
    for (int32_t q = start[f]; q < start[f + 1]; q++) {
      size_t e = (size_t)order[q];
      int aux = e >= ni;
      size_t r = (size_t)(aux ? arows[e - ni] : rows[e]);
      float v = aux ? avals[e - ni] : vals[e];
      float gr = aux ? agp[e - ni] : gp[e];
      const float* up = (aux ? ga : g) + r * Do;
      const float* xr = xc + r * Di;
      for (size_t d = 0; d < Do; d++) gd[d] = gd[d] + v * up[d];
      for (size_t d = 0; d < Di; d++) ge[d] = ge[d] + gr * xr[d];
      gb = gb + gr;
    }
    gbe[f] = gb;
    float* wer = we + f * Di;
    for (size_t d = 0; d < Di; d++) gbd[d] = gbd[d] + gb * wer[d];
    float* wdr = wd + f * Do;
    adam(wdr, md + f * Do, vd + f * Do, gd, Do, &h);
    adam(wer, me + f * Di, ve + f * Di, ge, Di, &h);
    if (normalize) {
      float ss = 0.0f;
      for (size_t d = 0; d < Do; d++) ss = ss + wdr[d] * wdr[d];
      float nrm = sqrtf(ss);
      if (!(nrm > h.eps)) nrm = nrm != nrm ? nrm : h.eps; /* Max(norm, eps), NaN kept */
      for (size_t d = 0; d < Do; d++) wdr[d] = wdr[d] / nrm;
    }
  }
  free(start); free(fill); free(order); free(gd); free(ge);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"decode", NULL, decode, NULL, NULL, NULL, napi_default, NULL},
      {"grads", NULL, grads, NULL, NULL, NULL, napi_default, NULL},
      {"decodeRows", NULL, decode_rows, NULL, NULL, NULL, napi_default, NULL},
      {"dotRows", NULL, dot_rows, NULL, NULL, NULL, napi_default, NULL},
      {"adamRows", NULL, adam_rows, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 5, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
