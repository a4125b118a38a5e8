;;; eglot_test.el --- Emacs + eglot as a real LSP client of ragls  -*- lexical-binding: t -*-
;; Loads the Emacs snippet of docs/EDITORS.md verbatim, starts eglot on a text file of a workspace,
;; waits for the first indexing, hovers an identifier and runs the snippet's `ragls-ask'; prints
;; what came back between markers. Driven by tests/editors/test_emacs.py (inputs in the environment).

(require 'eglot)
(require 'cl-lib)

(defun ragls-test--env (name)
  (let ((value (getenv name)))
    (unless (and value (not (string-empty-p value))) (error "missing environment variable %s" name))
    value))

(defun ragls-test--print (marker text)
  (princ (format "%s-BEGIN\n%s\n%s-END\n" marker text marker)))

(condition-case err
    (let* ((root (file-name-as-directory (ragls-test--env "RAGLS_TEST_ROOT")))
           (file (ragls-test--env "RAGLS_TEST_FILE"))
           (line (string-to-number (ragls-test--env "RAGLS_TEST_LINE")))   ; 1-based
           (col (string-to-number (ragls-test--env "RAGLS_TEST_COL"))))    ; 0-based
      (load (ragls-test--env "RAGLS_TEST_SNIPPET") nil t)
      ;; The workspace is not a VCS checkout: tell project.el where it is.
      (add-hook 'project-find-functions (lambda (_dir) (cons 'transient root)))
      (find-file file)
      (unless (eq major-mode 'text-mode) (error "expected text-mode, got %s" major-mode))
      (apply #'eglot (eglot--guess-contact))    ; what M-x eglot does, without prompting
      (let ((server (eglot-current-server))
            (deadline (+ (float-time) 60))
            (indexed nil))
        (unless server (error "eglot did not connect"))
        (while (and (not indexed) (< (float-time) deadline))
          (let* ((folders (plist-get (jsonrpc-request server :ragls/status nil) :folders))
                 (folder (and (> (length folders) 0) (aref folders 0))))
            (setq indexed (and folder (eq (plist-get folder :indexing) :json-false) (> (plist-get folder :files) 0))))
          (unless indexed (accept-process-output nil 0.1)))
        (unless indexed (error "indexing did not finish"))
        (goto-char (point-min))
        (forward-line (1- line))
        (forward-char col)
        (let ((hover (jsonrpc-request server :textDocument/hover (eglot--TextDocumentPositionParams))))
          (ragls-test--print "HOVER" (plist-get (plist-get hover :contents) :value))))
      (ragls-ask (ragls-test--env "RAGLS_TEST_QUESTION"))
      (ragls-test--print "ASK" (with-current-buffer "*ragls answer*" (buffer-string)))
      (ragls-test--print "ASK-MODE" (with-current-buffer "*ragls answer*" (symbol-name major-mode)))
      (eglot-shutdown (eglot-current-server))
      (kill-emacs 0))
  (error
   (princ (format "ERROR: %S\n" err))
   (kill-emacs 1)))
