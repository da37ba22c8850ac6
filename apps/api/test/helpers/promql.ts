// What a PromQL expression names, read with Prometheus' own PromQL grammar (the Lezer parser its
// web UI uses), so the tests see selectors, matchers and grouping labels as Prometheus does.
import { parser } from '@prometheus-io/lezer-promql';

export interface Selector {
  metric: string;
  matchers: { label: string; value: string }[];
}
export interface ParsedExpression {
  selectors: Selector[];
  groupingLabels: string[];
}

/** Metric selectors and grouping labels (by/without/on/ignoring/group_*) of a PromQL expression. */
export function parsePromQL(expression: string): ParsedExpression {
  const tree = parser.parse(expression);
  const selectors: Selector[] = [];
  const groupingLabels: string[] = [];
  const text = (from: number, to: number) => expression.slice(from, to);
  let error: string | undefined;
  tree.iterate({
    enter(node) {
      if (node.type.isError)
        error ??= `syntax error at ${node.from}: …${text(node.from, node.from + 20)}`;
      if (node.name === 'VectorSelector') {
        const selector: Selector = { metric: '', matchers: [] };
        const cursor = node.node.cursor();
        cursor.iterate((child) => {
          if (child.name === 'Identifier') selector.metric = text(child.from, child.to);
          if (child.name === 'UnquotedLabelMatcher') {
            const name = child.node.getChild('LabelName');
            const value = child.node.getChild('StringLiteral');
            if (name && value) {
              selector.matchers.push({
                label: text(name.from, name.to),
                value: JSON.parse(text(value.from, value.to)) as string,
              });
            }
          }
        });
        selectors.push(selector);
        return false;
      }
      if (node.name === 'GroupingLabels') {
        for (const label of node.node.getChildren('LabelName')) {
          groupingLabels.push(text(label.from, label.to));
        }
      }
      return undefined;
    },
  });
  if (error) throw new Error(`${error} in: ${expression}`);
  return { selectors, groupingLabels };
}
