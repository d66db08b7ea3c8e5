// The definition editor: CodeMirror 6 with YAML highlighting, and the
// api's validation as the marketer types. @codemirror/lint runs the check
// 400 ms after the last keystroke (POST /v1/journeys/validate) and shows
// each problem inline at its line and column; the screen lists them too.
import { EditorView, basicSetup } from 'codemirror';
import { EditorState } from '@codemirror/state';
import { keymap } from '@codemirror/view';
import { indentWithTab } from '@codemirror/commands';
import { yaml } from '@codemirror/lang-yaml';
import { linter, lintGutter } from '@codemirror/lint';
import { MergeView } from '@codemirror/merge';
import { api } from '../api.js';

/** position is the document offset of a problem's line and column (1-based; 0 unknown). */
export function position(doc, line, column) {
  if (!line || line < 1 || line > doc.lines) return { from: 0, to: Math.min(doc.length, doc.line(1).to) };
  const l = doc.line(line);
  const from = Math.min(l.to, l.from + Math.max(0, (column || 1) - 1));
  return { from, to: l.to > from ? l.to : from };
}

/**
 * createEditor mounts the editor in parent. onChecking is called when the
 * text changed and a check is due; onProblems(problems, error) with the
 * api's answer.
 */
export function createEditor(parent, doc, { label, describedBy, onChecking, onProblems }) {
  let seq = 0;
  const validate = linter(
    async (view) => {
      const mine = ++seq;
      const text = view.state.doc.toString();
      try {
        const res = await api.post('/v1/journeys/validate', { body: text });
        if (mine !== seq) return [];
        const problems = res.problems || [];
        onProblems(problems, null);
        return problems.map((p) => {
          const { from, to } = position(view.state.doc, p.line, p.column);
          return { from, to, severity: 'error', source: p.path, message: `${p.path}: ${p.rule}` };
        });
      } catch (err) {
        if (mine === seq) onProblems(null, err);
        return [];
      }
    },
    { delay: 400 },
  );
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        basicSetup,
        keymap.of([indentWithTab]),
        yaml(),
        validate,
        lintGutter(),
        // Tab indents (indentWithTab), so the page says how to leave: Esc,
        // then Tab (CodeMirror's own escape from its Tab trap).
        EditorView.contentAttributes.of({ 'aria-label': label, 'aria-multiline': 'true', tabindex: '0', ...(describedBy ? { 'aria-describedby': describedBy } : {}) }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) onChecking();
        }),
      ],
    }),
  });
  return view;
}

/** createDiff shows two sources side by side, read-only, changes highlighted. */
export function createDiff(parent, a, b, labelA, labelB) {
  const ro = (label) => [basicSetup, yaml(), EditorState.readOnly.of(true), EditorView.editable.of(false), EditorView.contentAttributes.of({ 'aria-label': label, tabindex: '0' })];
  return new MergeView({ parent, a: { doc: a, extensions: ro(labelA) }, b: { doc: b, extensions: ro(labelB) }, collapseUnchanged: { margin: 3, minSize: 6 } });
}
