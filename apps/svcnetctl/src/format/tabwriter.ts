/**
 * Elastic tabstops as Go's text/tabwriter does them, so our tables and
 * `describe` output line up exactly like kubectl's: a cell is text ended by a
 * tab; the last cell of a line is never padded; a column block is a run of
 * consecutive lines that all have a cell in that column.
 */

/** kubectl's `get` printer (printers.GetNewTabWriter): min width 6, padding 3. */
export const TABLE_LAYOUT: TabLayout = { minWidth: 6, padding: 3 };
/** kubectl's `describe` printer: tabwriter.NewWriter(out, 0, 8, 2, ' ', 0). */
export const DESCRIBE_LAYOUT: TabLayout = { minWidth: 0, padding: 2 };

export interface TabLayout {
  /** Minimal cell width, padding included. */
  minWidth: number;
  /** Spaces added to the widest cell of a column. */
  padding: number;
}

function textWidth(s: string): number {
  return [...s].length;
}

/** Aligns tab-separated text (lines ending in `\n`) into columns. */
export function alignTabs(text: string, layout: TabLayout): string {
  const endsWithNewline = text.endsWith('\n');
  const rawLines = (endsWithNewline ? text.slice(0, -1) : text).split('\n');
  const lines = rawLines.map((l) => l.split('\t'));
  const out: string[] = new Array<string>(lines.length).fill('');
  const widths: number[] = [];

  const writeLines = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const cells = lines[i]!;
      let s = '';
      cells.forEach((cell, j) => {
        s += cell;
        if (j < widths.length) s += ' '.repeat(Math.max(0, widths[j]! - textWidth(cell)));
      });
      out[i] = s;
    }
  };

  // Go's format(): recursive over column blocks, left to right.
  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    let start = line0;
    for (let row = line0; row < line1; row++) {
      if (column >= lines[row]!.length - 1) continue;
      writeLines(start, row);
      start = row;
      let width = layout.minWidth;
      for (; row < line1; row++) {
        const cells = lines[row]!;
        if (column >= cells.length - 1) break;
        width = Math.max(width, textWidth(cells[column]!) + layout.padding);
      }
      widths.push(width);
      format(start, row);
      widths.pop();
      // `row` has no cell in this column, so the loop's increment may skip it (as Go's does).
      start = row;
    }
    writeLines(start, line1);
  };

  format(0, lines.length);
  return out.join('\n') + (endsWithNewline ? '\n' : '');
}

/** Renders rows of cells as a kubectl table (header first). */
export function renderTable(rows: readonly (readonly string[])[]): string {
  return alignTabs(rows.map((r) => r.join('\t') + '\n').join(''), TABLE_LAYOUT);
}

/**
 * A table printed in pieces (`get -w`): like kubectl's tabwriter with
 * RememberWidths, a column never shrinks between pieces, so later rows line
 * up under the header as long as they fit.
 */
export class StreamingTable {
  private widths: number[] = [];

  /** Renders rows (each ending in a newline), widening columns as needed. */
  render(rows: readonly (readonly string[])[]): string {
    for (const row of rows) {
      row.slice(0, -1).forEach((cell, i) => {
        this.widths[i] = Math.max(this.widths[i] ?? TABLE_LAYOUT.minWidth, textWidth(cell) + TABLE_LAYOUT.padding);
      });
    }
    return rows
      .map((row) => row.map((cell, i) => (i < row.length - 1 ? cell.padEnd(this.widths[i]!) : cell)).join('') + '\n')
      .join('');
  }
}
