;; The WebAssembly SIMD kernels of the CPU backend: the same math as the TypeScript twins of
;; src/kernels/matmul.ts and src/optim/adam.ts, on f32x4 vectors. The host owns the memory
;; (imported) and every pointer is a byte address in it; the host also reserves the scratch
;; space the matmul packs its operands into.
;;
;; matmul: C[M, N] = act(gatedOpA(A) · opB(B) + bias), bias_out[m] = sum_k gatedOpA(A)[m, k].
;;   Operands are packed so that the inner loop reads both contiguously, whatever their stored
;;   layout: a block of `mc` rows of gatedOpA(A) as panels of 4 rows (k-major: the 4 values of
;;   one k side by side), and opB(B) as panels of 8 columns (the 8 values of one k side by side,
;;   zero past N). The 4 x 8 micro-kernel keeps its block of C in 8 vector accumulators (plus 2
;;   B vectors and 1 A splat: 11 of the 16 SIMD registers of x86-64) and runs over all of K.
;;   A panel of B (32 * K bytes) stays in L1 while every A panel of the block passes over it.
;;   The epilogue adds the bias and applies relu (other activations: the host, on C).
;;   Gate and row sums follow the twin: the gated A value is a[i] * act_grad(gate[i]) rounded
;;   once to f32, and the row sums are accumulated in f64 in order of k.
;;
;; adam, sgd: the updates of optim/adam (Adam, AdamW) and optim/sgd, four elements per step; n is
;; a multiple of 4.
;;
;; Scratch of matmul (bytes from `scratch`):
;;   [0, mc * k * 4)                  packed A block
;;   [.., + k * 32)                   packed B panel
;;   [.., + ceil(n / 8) * 32)         bias padded with zeros to whole panels
;;   [.., + 128)                      one 4 x 8 tile of C, for blocks that overhang M or N
(module
  (import "env" "memory" (memory 1))

  ;; act'(v) of the gate, as a factor in f64 (the twin multiplies in f64 and rounds once).
  ;; Codes of src/kernels/activations.ts; gelu is not handled here (the host runs the twin).
  (func $gate_factor (param $kind i32) (param $v f32) (param $alpha f64) (result f64)
    (local $x f64)
    (local.set $x (f64.promote_f32 (local.get $v)))
    (block $default
      (block $tanh
        (block $sigmoid
          (block $leaky
            (block $relu
              (br_table $default $relu $leaky $sigmoid $tanh $default (local.get $kind)))
            (return (select (f64.const 1) (f64.const 0) (f32.gt (local.get $v) (f32.const 0)))))
          (return (select (f64.const 1) (local.get $alpha) (f32.gt (local.get $v) (f32.const 0)))))
        (return (f64.promote_f32 (f32.demote_f64
          (f64.mul (local.get $x) (f64.sub (f64.const 1) (local.get $x)))))))
      (return (f64.promote_f32 (f32.demote_f64
        (f64.sub (f64.const 1) (f64.mul (local.get $x) (local.get $x)))))))
    (f64.const 1))

  ;; Packs rows [i0, i0 + rows) of gatedOpA(A) (rows a multiple of 4; rows past M are zeros) into
  ;; panels of 4 rows at dst: row r, depth kk at dst + (r / 4) * k * 16 + kk * 16 + (r % 4) * 4.
  ;; gk < 0: no gate. With `ones`, also writes the row sums to sums[row].
  (func $pack_a (param $a i32) (param $gate i32) (param $dst i32) (param $sums i32) (param $ones i32)
                (param $i0 i32) (param $rows i32) (param $m i32) (param $k i32)
                (param $trans i32) (param $gk i32) (param $alpha f64)
    (local $r i32) (local $row i32) (local $kk i32) (local $out i32) (local $src i32)
    (local $step i32) (local $v f32) (local $sum f64)
    (local.set $step (select (i32.shl (local.get $m) (i32.const 2)) (i32.const 4) (local.get $trans)))
    (block $rows_done
      (loop $rows_loop
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $row (i32.add (local.get $i0) (local.get $r)))
        (local.set $out (i32.add (local.get $dst)
          (i32.add (i32.mul (i32.shr_u (local.get $r) (i32.const 2)) (i32.shl (local.get $k) (i32.const 4)))
                   (i32.shl (i32.and (local.get $r) (i32.const 3)) (i32.const 2)))))
        (local.set $kk (i32.const 0))
        (if (i32.ge_u (local.get $row) (local.get $m))
          (then
            (loop $zero
              (f32.store (local.get $out) (f32.const 0))
              (local.set $out (i32.add (local.get $out) (i32.const 16)))
              (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
              (br_if $zero (i32.lt_u (local.get $kk) (local.get $k)))))
          (else
            ;; offset of (row, 0) in A's storage: row * k, or row when stored [K, M]
            (local.set $src (i32.shl
              (select (local.get $row) (i32.mul (local.get $row) (local.get $k)) (local.get $trans))
              (i32.const 2)))
            (local.set $sum (f64.const 0))
            (loop $copy
              (local.set $v (f32.load (i32.add (local.get $a) (local.get $src))))
              (if (i32.ge_s (local.get $gk) (i32.const 0))
                (then
                  (local.set $v (f32.demote_f64 (f64.mul
                    (f64.promote_f32 (local.get $v))
                    (call $gate_factor (local.get $gk)
                      (f32.load (i32.add (local.get $gate) (local.get $src))) (local.get $alpha)))))))
              (local.set $sum (f64.add (local.get $sum) (f64.promote_f32 (local.get $v))))
              (f32.store (local.get $out) (local.get $v))
              (local.set $src (i32.add (local.get $src) (local.get $step)))
              (local.set $out (i32.add (local.get $out) (i32.const 16)))
              (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
              (br_if $copy (i32.lt_u (local.get $kk) (local.get $k))))
            (if (local.get $ones)
              (then
                (f32.store (i32.add (local.get $sums) (i32.shl (local.get $row) (i32.const 2)))
                  (f32.demote_f64 (local.get $sum)))))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows_loop))))

  ;; Packs columns [j0, j0 + 8) of opB(B) at dst: depth kk, column c at dst + kk * 32 + c * 4,
  ;; zeros past N.
  (func $pack_b (param $b i32) (param $dst i32) (param $j0 i32) (param $n i32) (param $k i32) (param $trans i32)
    (local $c i32) (local $col i32) (local $kk i32) (local $src i32) (local $out i32) (local $step i32)
    (local $end i32) (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128) (local $ks i32)
    (if (i32.le_u (i32.add (local.get $j0) (i32.const 8)) (local.get $n))
      (then
        (if (i32.eqz (local.get $trans))
          (then
            ;; B [K, N]: each depth is 8 consecutive values
            (local.set $src (i32.add (local.get $b) (i32.shl (local.get $j0) (i32.const 2))))
            (local.set $step (i32.shl (local.get $n) (i32.const 2)))
            (local.set $out (local.get $dst))
            (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $k) (i32.const 5))))
            (loop $rows
              (v128.store (local.get $out) (v128.load (local.get $src)))
              (v128.store offset=16 (local.get $out) (v128.load offset=16 (local.get $src)))
              (local.set $src (i32.add (local.get $src) (local.get $step)))
              (local.set $out (i32.add (local.get $out) (i32.const 32)))
              (br_if $rows (i32.lt_u (local.get $out) (local.get $end))))
            (return))
          (else
            ;; B [N, K]: transpose 4 x 4 blocks of (column, depth) for the depths that fill one
            (local.set $ks (i32.and (local.get $k) (i32.const -4)))
            (local.set $step (i32.shl (local.get $k) (i32.const 2)))
            (local.set $c (i32.const 0))
            (loop $halves
              (local.set $src (i32.add (local.get $b)
                (i32.shl (i32.mul (i32.add (local.get $j0) (local.get $c)) (local.get $k)) (i32.const 2))))
              (local.set $out (i32.add (local.get $dst) (i32.shl (local.get $c) (i32.const 2))))
              (local.set $kk (i32.const 0))
              (block $blocks_done
                (loop $blocks
                  (br_if $blocks_done (i32.ge_u (local.get $kk) (local.get $ks)))
                  (local.set $r0 (v128.load (local.get $src)))
                  (local.set $r1 (v128.load (i32.add (local.get $src) (local.get $step))))
                  (local.set $r2 (v128.load (i32.add (local.get $src) (i32.shl (local.get $step) (i32.const 1)))))
                  (local.set $r3 (v128.load (i32.add (local.get $src) (i32.mul (local.get $step) (i32.const 3)))))
                  (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
                  (local.set $t1 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
                  (local.set $t2 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
                  (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
                  (v128.store (local.get $out)
                    (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1)))
                  (v128.store offset=32 (local.get $out)
                    (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1)))
                  (v128.store offset=64 (local.get $out)
                    (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t2) (local.get $t3)))
                  (v128.store offset=96 (local.get $out)
                    (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t2) (local.get $t3)))
                  (local.set $src (i32.add (local.get $src) (i32.const 16)))
                  (local.set $out (i32.add (local.get $out) (i32.const 128)))
                  (local.set $kk (i32.add (local.get $kk) (i32.const 4)))
                  (br $blocks)))
              (local.set $c (i32.add (local.get $c) (i32.const 4)))
              (br_if $halves (i32.lt_u (local.get $c) (i32.const 8))))
            (if (i32.eq (local.get $ks) (local.get $k)) (then (return)))))))
    ;; Everything else element by element: the tail depths of a transposed full panel, or the
    ;; last panel when it overhangs N.
    (local.set $step (select (i32.const 4) (i32.shl (local.get $n) (i32.const 2)) (local.get $trans)))
    (local.set $ks (select (local.get $ks) (i32.const 0)
      (i32.le_u (i32.add (local.get $j0) (i32.const 8)) (local.get $n))))
    (local.set $c (i32.const 0))
    (loop $cols
      (local.set $col (i32.add (local.get $j0) (local.get $c)))
      (local.set $out (i32.add (local.get $dst)
        (i32.add (i32.shl (local.get $ks) (i32.const 5)) (i32.shl (local.get $c) (i32.const 2)))))
      (local.set $src (i32.add (local.get $b) (i32.shl
        (i32.add (select (i32.mul (local.get $col) (local.get $k)) (local.get $col) (local.get $trans))
                 (select (local.get $ks) (i32.mul (local.get $ks) (local.get $n)) (local.get $trans)))
        (i32.const 2))))
      (local.set $kk (local.get $ks))
      (block $depth_done
        (loop $depth
          (br_if $depth_done (i32.ge_u (local.get $kk) (local.get $k)))
          (if (i32.lt_u (local.get $col) (local.get $n))
            (then (f32.store (local.get $out) (f32.load (local.get $src))))
            (else (f32.store (local.get $out) (f32.const 0))))
          (local.set $src (i32.add (local.get $src) (local.get $step)))
          (local.set $out (i32.add (local.get $out) (i32.const 32)))
          (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
          (br $depth)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br_if $cols (i32.lt_u (local.get $c) (i32.const 8)))))

  ;; dst[4 x 8, row stride ldc floats] = relu?(sum over k of the A panel x the B panel + bias?)
  (func $kernel_4x8 (param $ap i32) (param $bp i32) (param $k i32) (param $dst i32) (param $ldc i32)
                    (param $bias i32) (param $has_bias i32) (param $relu i32)
    (local $end i32) (local $av v128) (local $b0 v128) (local $b1 v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $end (i32.add (local.get $ap) (i32.shl (local.get $k) (i32.const 4))))
    (loop $depth
      (local.set $b0 (v128.load (local.get $bp)))
      (local.set $b1 (v128.load offset=16 (local.get $bp)))
      (local.set $av (v128.load32_splat (local.get $ap)))
      (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $av) (local.get $b0))))
      (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $av) (local.get $b1))))
      (local.set $av (v128.load32_splat offset=4 (local.get $ap)))
      (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $av) (local.get $b0))))
      (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $av) (local.get $b1))))
      (local.set $av (v128.load32_splat offset=8 (local.get $ap)))
      (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $av) (local.get $b0))))
      (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $av) (local.get $b1))))
      (local.set $av (v128.load32_splat offset=12 (local.get $ap)))
      (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $av) (local.get $b0))))
      (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $av) (local.get $b1))))
      (local.set $ap (i32.add (local.get $ap) (i32.const 16)))
      (local.set $bp (i32.add (local.get $bp) (i32.const 32)))
      (br_if $depth (i32.lt_u (local.get $ap) (local.get $end))))
    (if (local.get $has_bias)
      (then
        (local.set $b0 (v128.load (local.get $bias)))
        (local.set $b1 (v128.load offset=16 (local.get $bias)))
        (local.set $c00 (f32x4.add (local.get $c00) (local.get $b0)))
        (local.set $c01 (f32x4.add (local.get $c01) (local.get $b1)))
        (local.set $c10 (f32x4.add (local.get $c10) (local.get $b0)))
        (local.set $c11 (f32x4.add (local.get $c11) (local.get $b1)))
        (local.set $c20 (f32x4.add (local.get $c20) (local.get $b0)))
        (local.set $c21 (f32x4.add (local.get $c21) (local.get $b1)))
        (local.set $c30 (f32x4.add (local.get $c30) (local.get $b0)))
        (local.set $c31 (f32x4.add (local.get $c31) (local.get $b1)))))
    (if (local.get $relu)
      (then
        (local.set $av (v128.const f32x4 0 0 0 0))
        (local.set $c00 (f32x4.max (local.get $c00) (local.get $av)))
        (local.set $c01 (f32x4.max (local.get $c01) (local.get $av)))
        (local.set $c10 (f32x4.max (local.get $c10) (local.get $av)))
        (local.set $c11 (f32x4.max (local.get $c11) (local.get $av)))
        (local.set $c20 (f32x4.max (local.get $c20) (local.get $av)))
        (local.set $c21 (f32x4.max (local.get $c21) (local.get $av)))
        (local.set $c30 (f32x4.max (local.get $c30) (local.get $av)))
        (local.set $c31 (f32x4.max (local.get $c31) (local.get $av)))))
    (local.set $ldc (i32.shl (local.get $ldc) (i32.const 2)))
    (v128.store (local.get $dst) (local.get $c00))
    (v128.store offset=16 (local.get $dst) (local.get $c01))
    (local.set $dst (i32.add (local.get $dst) (local.get $ldc)))
    (v128.store (local.get $dst) (local.get $c10))
    (v128.store offset=16 (local.get $dst) (local.get $c11))
    (local.set $dst (i32.add (local.get $dst) (local.get $ldc)))
    (v128.store (local.get $dst) (local.get $c20))
    (v128.store offset=16 (local.get $dst) (local.get $c21))
    (local.set $dst (i32.add (local.get $dst) (local.get $ldc)))
    (v128.store (local.get $dst) (local.get $c30))
    (v128.store offset=16 (local.get $dst) (local.get $c31)))

  ;; One matrix of the matmul kernel (see the header); mc, a multiple of 4, is the rows of A
  ;; packed at a time. gk < 0: no gate.
  (func (export "matmul")
    (param $a i32) (param $b i32) (param $gate i32) (param $bias i32) (param $c i32) (param $sums i32)
    (param $m i32) (param $n i32) (param $k i32) (param $trans_a i32) (param $trans_b i32)
    (param $gk i32) (param $alpha f64) (param $has_bias i32) (param $ones i32) (param $relu i32)
    (param $scratch i32) (param $mc i32)
    (local $apack i32) (local $bpack i32) (local $bpad i32) (local $tile i32) (local $npad i32)
    (local $i0 i32) (local $rows i32) (local $j0 i32) (local $p i32) (local $i i32)
    (local $cols i32) (local $r i32) (local $q i32) (local $src i32) (local $dst i32)
    (local.set $apack (local.get $scratch))
    (local.set $bpack (i32.add (local.get $apack) (i32.shl (i32.mul (local.get $mc) (local.get $k)) (i32.const 2))))
    (local.set $bpad (i32.add (local.get $bpack) (i32.shl (local.get $k) (i32.const 5))))
    (local.set $npad (i32.and (i32.add (local.get $n) (i32.const 7)) (i32.const -8)))
    (local.set $tile (i32.add (local.get $bpad) (i32.shl (local.get $npad) (i32.const 2))))
    (if (local.get $has_bias)
      (then
        (memory.copy (local.get $bpad) (local.get $bias) (i32.shl (local.get $n) (i32.const 2)))
        (memory.fill (i32.add (local.get $bpad) (i32.shl (local.get $n) (i32.const 2))) (i32.const 0)
          (i32.shl (i32.sub (local.get $npad) (local.get $n)) (i32.const 2)))))
    (loop $blocks
      (local.set $rows (i32.sub (local.get $m) (local.get $i0)))
      (if (i32.gt_u (local.get $rows) (local.get $mc)) (then (local.set $rows (local.get $mc))))
      (local.set $rows (i32.and (i32.add (local.get $rows) (i32.const 3)) (i32.const -4)))
      (call $pack_a (local.get $a) (local.get $gate) (local.get $apack) (local.get $sums) (local.get $ones)
        (local.get $i0) (local.get $rows) (local.get $m) (local.get $k)
        (local.get $trans_a) (local.get $gk) (local.get $alpha))
      (local.set $j0 (i32.const 0))
      (loop $panels
        (call $pack_b (local.get $b) (local.get $bpack) (local.get $j0) (local.get $n) (local.get $k) (local.get $trans_b))
        (local.set $cols (i32.sub (local.get $n) (local.get $j0)))
        (if (i32.gt_u (local.get $cols) (i32.const 8)) (then (local.set $cols (i32.const 8))))
        (local.set $p (i32.const 0))
        (loop $strips
          (local.set $i (i32.add (local.get $i0) (local.get $p)))
          (if (i32.and (i32.eq (local.get $cols) (i32.const 8))
                       (i32.le_u (i32.add (local.get $i) (i32.const 4)) (local.get $m)))
            (then
              (call $kernel_4x8
                (i32.add (local.get $apack) (i32.shl (i32.mul (local.get $p) (local.get $k)) (i32.const 2)))
                (local.get $bpack) (local.get $k)
                (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j0)) (i32.const 2)))
                (local.get $n)
                (i32.add (local.get $bpad) (i32.shl (local.get $j0) (i32.const 2))) (local.get $has_bias) (local.get $relu)))
            (else
              (call $kernel_4x8
                (i32.add (local.get $apack) (i32.shl (i32.mul (local.get $p) (local.get $k)) (i32.const 2)))
                (local.get $bpack) (local.get $k) (local.get $tile) (i32.const 8)
                (i32.add (local.get $bpad) (i32.shl (local.get $j0) (i32.const 2))) (local.get $has_bias) (local.get $relu))
              ;; the part of the tile inside C
              (local.set $r (i32.const 0))
              (block $tile_done
                (loop $tile_rows
                  (br_if $tile_done (i32.or (i32.ge_u (local.get $r) (i32.const 4))
                                            (i32.ge_u (i32.add (local.get $i) (local.get $r)) (local.get $m))))
                  (local.set $src (i32.add (local.get $tile) (i32.shl (local.get $r) (i32.const 5))))
                  (local.set $dst (i32.add (local.get $c) (i32.shl
                    (i32.add (i32.mul (i32.add (local.get $i) (local.get $r)) (local.get $n)) (local.get $j0)) (i32.const 2))))
                  (memory.copy (local.get $dst) (local.get $src) (i32.shl (local.get $cols) (i32.const 2)))
                  (local.set $r (i32.add (local.get $r) (i32.const 1)))
                  (br $tile_rows)))))
          (local.set $p (i32.add (local.get $p) (i32.const 4)))
          (br_if $strips (i32.lt_u (local.get $p) (local.get $rows))))
        (local.set $j0 (i32.add (local.get $j0) (i32.const 8)))
        (br_if $panels (i32.lt_u (local.get $j0) (local.get $n))))
      (local.set $i0 (i32.add (local.get $i0) (local.get $mc)))
      (br_if $blocks (i32.lt_u (local.get $i0) (local.get $m)))))

  ;; g_eff of four elements (optimizer_grad4 of shaders/optim/common.wgsl): the L1 and L2 terms,
  ;; then clipping by norm (clip is 1 when off) and by value, then the sign flip of maximize.
  (func $grad_eff (param $wv v128) (param $gv v128) (param $l1 v128) (param $l2 v128) (param $clip v128)
                  (param $clip_by_value i32) (param $lo v128) (param $hi v128) (param $maximize i32) (result v128)
    (local $e v128)
    ;; sign(w) as -1, 0, 1: the lane masks are -1 where true
    (local.set $e (f32x4.mul
      (f32x4.add
        (f32x4.add (local.get $gv) (f32x4.mul (local.get $l1) (f32x4.convert_i32x4_s (i32x4.sub
          (f32x4.lt (local.get $wv) (v128.const f32x4 0 0 0 0))
          (f32x4.gt (local.get $wv) (v128.const f32x4 0 0 0 0))))))
        (f32x4.mul (local.get $l2) (local.get $wv)))
      (local.get $clip)))
    (if (local.get $clip_by_value)
      (then (local.set $e (f32x4.min (f32x4.max (local.get $e) (local.get $lo)) (local.get $hi)))))
    (if (local.get $maximize) (then (local.set $e (f32x4.neg (local.get $e)))))
    (local.get $e))

  ;; optim/adam over n elements (a multiple of 4): weights w, gradients g, state s (exp_avg at
  ;; s, exp_avg_sq at s + stride, max_exp_avg_sq at s + 2 * stride; stride in elements). `hyper`
  ;; holds l1, l2, step_size, bc2_sqrt, beta1, one_minus_beta1, beta2, one_minus_beta2, eps,
  ;; decay; `stats` holds grad_norm, clip_coef, lr_factor, penalty. Same f32 operations in the
  ;; same order as adamTwin, except that each fma rounds twice.
  (func (export "adam")
    (param $w i32) (param $g i32) (param $s i32) (param $n i32) (param $stride i32)
    (param $hyper i32) (param $stats i32) (param $clip_norm i32) (param $clip_by_value i32)
    (param $clip_value f32) (param $scale_lr i32) (param $maximize i32) (param $amsgrad i32)
    (param $decoupled i32)
    (local $end i32) (local $v_off i32) (local $lr_factor f32) (local $decay f32)
    (local $l1 v128) (local $l2 v128) (local $clip v128) (local $lo v128) (local $hi v128)
    (local $keep v128) (local $decay_v v128) (local $neg_step v128) (local $bc2 v128) (local $eps v128)
    (local $beta1 v128) (local $omb1 v128) (local $beta2 v128) (local $omb2 v128)
    (local $wv v128) (local $e v128) (local $m v128) (local $v v128)
    (local.set $lr_factor (select (f32.load offset=8 (local.get $stats)) (f32.const 1) (local.get $scale_lr)))
    (local.set $decay (f32.load offset=36 (local.get $hyper)))
    (local.set $l1 (v128.load32_splat (local.get $hyper)))
    (local.set $l2 (v128.load32_splat offset=4 (local.get $hyper)))
    (local.set $neg_step (f32x4.splat (f32.neg (f32.mul (f32.load offset=8 (local.get $hyper)) (local.get $lr_factor)))))
    (local.set $bc2 (v128.load32_splat offset=12 (local.get $hyper)))
    (local.set $beta1 (v128.load32_splat offset=16 (local.get $hyper)))
    (local.set $omb1 (v128.load32_splat offset=20 (local.get $hyper)))
    (local.set $beta2 (v128.load32_splat offset=24 (local.get $hyper)))
    (local.set $omb2 (v128.load32_splat offset=28 (local.get $hyper)))
    (local.set $eps (v128.load32_splat offset=32 (local.get $hyper)))
    (local.set $decay_v (f32x4.splat (local.get $decay)))
    (local.set $keep (f32x4.splat (f32.sub (f32.const 1) (f32.mul (local.get $decay) (local.get $lr_factor)))))
    (local.set $clip (f32x4.splat (select (f32.load offset=4 (local.get $stats)) (f32.const 1) (local.get $clip_norm))))
    (local.set $hi (f32x4.splat (local.get $clip_value)))
    (local.set $lo (f32x4.neg (local.get $hi)))
    (local.set $v_off (i32.shl (local.get $stride) (i32.const 2)))
    (local.set $end (i32.add (local.get $w) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $elems
        (br_if $done (i32.ge_u (local.get $w) (local.get $end)))
        (local.set $wv (v128.load (local.get $w)))
        (local.set $e (call $grad_eff (local.get $wv) (v128.load (local.get $g)) (local.get $l1) (local.get $l2)
          (local.get $clip) (local.get $clip_by_value) (local.get $lo) (local.get $hi) (local.get $maximize)))
        (if (local.get $decoupled)
          (then (local.set $wv (f32x4.mul (local.get $wv) (local.get $keep))))
          (else (local.set $e (f32x4.add (f32x4.mul (local.get $decay_v) (local.get $wv)) (local.get $e)))))
        (local.set $m (f32x4.add (f32x4.mul (local.get $omb1) (local.get $e))
                                 (f32x4.mul (v128.load (local.get $s)) (local.get $beta1))))
        (local.set $v (f32x4.add (f32x4.mul (f32x4.mul (local.get $omb2) (local.get $e)) (local.get $e))
                                 (f32x4.mul (v128.load (i32.add (local.get $s) (local.get $v_off))) (local.get $beta2))))
        (v128.store (local.get $s) (local.get $m))
        (v128.store (i32.add (local.get $s) (local.get $v_off)) (local.get $v))
        (if (local.get $amsgrad)
          (then
            (local.set $v (f32x4.max
              (v128.load (i32.add (local.get $s) (i32.shl (local.get $v_off) (i32.const 1)))) (local.get $v)))
            (v128.store (i32.add (local.get $s) (i32.shl (local.get $v_off) (i32.const 1))) (local.get $v))))
        (v128.store (local.get $w) (f32x4.add (local.get $wv)
          (f32x4.div (f32x4.mul (local.get $neg_step) (local.get $m))
                     (f32x4.add (f32x4.div (f32x4.sqrt (local.get $v)) (local.get $bc2)) (local.get $eps)))))
        (local.set $w (i32.add (local.get $w) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (local.set $s (i32.add (local.get $s) (i32.const 16)))
        (br $elems))))

  ;; optim/sgd over n elements (a multiple of 4): weights w, gradients g, momentum buffer s.
  ;; `hyper` holds l1, l2, lr, first_step, momentum, one_minus_dampening, weight_decay; `stats` as
  ;; for adam. Same f32 operations in the same order as the twin, except that each fma rounds twice.
  (func (export "sgd")
    (param $w i32) (param $g i32) (param $s i32) (param $n i32)
    (param $hyper i32) (param $stats i32) (param $clip_norm i32) (param $clip_by_value i32)
    (param $clip_value f32) (param $scale_lr i32) (param $maximize i32) (param $has_momentum i32)
    (param $nesterov i32)
    (local $end i32) (local $first i32)
    (local $l1 v128) (local $l2 v128) (local $clip v128) (local $lo v128) (local $hi v128)
    (local $neg_lr v128) (local $momentum v128) (local $omd v128) (local $decay v128)
    (local $wv v128) (local $d v128) (local $b v128)
    (local.set $l1 (v128.load32_splat (local.get $hyper)))
    (local.set $l2 (v128.load32_splat offset=4 (local.get $hyper)))
    (local.set $neg_lr (f32x4.splat (f32.neg (f32.mul (f32.load offset=8 (local.get $hyper))
      (select (f32.load offset=8 (local.get $stats)) (f32.const 1) (local.get $scale_lr))))))
    (local.set $first (f32.ne (f32.load offset=12 (local.get $hyper)) (f32.const 0)))
    (local.set $momentum (v128.load32_splat offset=16 (local.get $hyper)))
    (local.set $omd (v128.load32_splat offset=20 (local.get $hyper)))
    (local.set $decay (v128.load32_splat offset=24 (local.get $hyper)))
    (local.set $clip (f32x4.splat (select (f32.load offset=4 (local.get $stats)) (f32.const 1) (local.get $clip_norm))))
    (local.set $hi (f32x4.splat (local.get $clip_value)))
    (local.set $lo (f32x4.neg (local.get $hi)))
    (local.set $end (i32.add (local.get $w) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $elems
        (br_if $done (i32.ge_u (local.get $w) (local.get $end)))
        (local.set $wv (v128.load (local.get $w)))
        (local.set $d (f32x4.add (f32x4.mul (local.get $decay) (local.get $wv))
          (call $grad_eff (local.get $wv) (v128.load (local.get $g)) (local.get $l1) (local.get $l2)
            (local.get $clip) (local.get $clip_by_value) (local.get $lo) (local.get $hi) (local.get $maximize))))
        (if (local.get $has_momentum)
          (then
            (local.set $b (local.get $d))
            (if (i32.eqz (local.get $first))
              (then (local.set $b (f32x4.add (f32x4.mul (local.get $omd) (local.get $d))
                (f32x4.mul (v128.load (local.get $s)) (local.get $momentum))))))
            (v128.store (local.get $s) (local.get $b))
            (local.set $d (select (result v128)
              (f32x4.add (f32x4.mul (local.get $momentum) (local.get $b)) (local.get $d))
              (local.get $b) (local.get $nesterov)))))
        (v128.store (local.get $w) (f32x4.add (f32x4.mul (local.get $neg_lr) (local.get $d)) (local.get $wv)))
        (local.set $w (i32.add (local.get $w) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (local.set $s (i32.add (local.get $s) (i32.const 16)))
        (br $elems))))
)
