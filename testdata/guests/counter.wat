;; Test guest for the stress tests: a well-behaved policy that counts its
;; invocations in a global and can be told to misbehave.
;;
;; Each call: deny "reused after a failure" if an earlier call of this
;; instance trapped or ran out of time (the instance must have been
;; discarded); count the call; try to read back the places a built-in may
;; have spliced a secret into (Authorization, X-Key, the URL, the body) into
;; its own memory, results ignored (the host must refuse, and tests scan the
;; memory); splice the secret named by param "key" raw into X-Key; write the
;; count in decimal to X-Count. Then, per params: "trap" marks the instance
;; and traps; "loop" marks it and never returns; "spin=N" burns N loop
;; iterations and returns normally.
(module
  (import "agentsecrets" "param" (func $param (param i32 i32 i32 i32) (result i32)))
  (import "agentsecrets" "secret_open" (func $secret_open (param i32 i32) (result i32)))
  (import "agentsecrets" "request_get" (func $request_get (param i32 i32 i32) (result i32)))
  (import "agentsecrets" "header_get" (func $header_get (param i32 i32 i32 i32) (result i32)))
  (import "agentsecrets" "header_set" (func $header_set (param i32 i32 i32 i32) (result i32)))
  (import "agentsecrets" "header_set_secret" (func $header_set_secret (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "agentsecrets" "deny" (func $deny (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "key")
  (data (i32.const 8) "X-Key")
  (data (i32.const 16) "trap")
  (data (i32.const 24) "loop")
  (data (i32.const 32) "spin")
  (data (i32.const 40) "X-Count")
  (data (i32.const 48) "Authorization")
  (data (i32.const 64) "reused after a failure")
  (data (i32.const 96) "missing key")
  (data (i32.const 112) "splice refused")
  ;; 1024: param buffer; 1280: count digits; 2048..6143: read-back buffers.
  (global $count (mut i32) (i32.const 0))
  (global $failed (mut i32) (i32.const 0))
  (func $refuse (param $ptr i32) (param $len i32) (result i32)
    (drop (call $deny (local.get $ptr) (local.get $len)))
    (i32.const 1))
  (func $has (param $name i32) (result i32)
    (i32.ge_s (call $param (local.get $name) (i32.const 4) (i32.const 1024) (i32.const 32)) (i32.const 0)))
  ;; itoa writes v in decimal ending just before 1300, returns the start.
  (func $itoa (param $v i32) (result i32)
    (local $p i32)
    (local.set $p (i32.const 1300))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $v) (i32.const 10))))
      (local.set $v (i32.div_u (local.get $v) (i32.const 10)))
      (br_if $digit (i32.ne (local.get $v) (i32.const 0))))
    (local.get $p))
  (func (export "on_request") (result i32)
    (local $n i32) (local $h i32) (local $p i32) (local $i i32)
    (if (global.get $failed) (then (return (call $refuse (i32.const 64) (i32.const 22)))))
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (drop (call $header_get (i32.const 48) (i32.const 13) (i32.const 2048) (i32.const 1024)))
    (drop (call $header_get (i32.const 8) (i32.const 5) (i32.const 3072) (i32.const 1024)))
    (drop (call $request_get (i32.const 1) (i32.const 4096) (i32.const 1024)))
    (drop (call $request_get (i32.const 5) (i32.const 5120) (i32.const 1024)))
    (local.set $n (call $param (i32.const 0) (i32.const 3) (i32.const 1024) (i32.const 256)))
    (if (i32.le_s (local.get $n) (i32.const 0)) (then (return (call $refuse (i32.const 96) (i32.const 11)))))
    (local.set $h (call $secret_open (i32.const 1024) (local.get $n)))
    (if (i32.ne (call $header_set_secret (i32.const 8) (i32.const 5) (i32.const 0) (i32.const 0) (local.get $h) (i32.const 0)) (i32.const 0))
      (then (return (call $refuse (i32.const 112) (i32.const 14)))))
    (local.set $p (call $itoa (global.get $count)))
    (drop (call $header_set (i32.const 40) (i32.const 7) (local.get $p) (i32.sub (i32.const 1300) (local.get $p))))
    (if (call $has (i32.const 16)) (then (global.set $failed (i32.const 1)) unreachable))
    (if (call $has (i32.const 24)) (then
      (global.set $failed (i32.const 1))
      (loop $forever (br $forever))))
    (local.set $n (call $param (i32.const 32) (i32.const 4) (i32.const 1024) (i32.const 16)))
    (if (i32.gt_s (local.get $n) (i32.const 0)) (then
      ;; parse the decimal spin count, then burn it
      (local.set $h (i32.const 0))
      (loop $parse
        (local.set $h (i32.add (i32.mul (local.get $h) (i32.const 10))
          (i32.sub (i32.load8_u (i32.add (i32.const 1024) (local.get $i))) (i32.const 48))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $parse (i32.lt_u (local.get $i) (local.get $n))))
      (loop $spin
        (local.set $h (i32.sub (local.get $h) (i32.const 1)))
        (br_if $spin (i32.gt_s (local.get $h) (i32.const 0))))))
    (i32.const 0)))
