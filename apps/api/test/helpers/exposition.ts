// A reader for the Prometheus text exposition format, enough for tests: families with their type
// and help, and samples with their labels. Written here because prom-client renders the format
// but does not parse it, and the tests must read what a scrape really returns.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
const SUFFIXES: Record<string, string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count'],
};

/** Parses a scrape into families keyed by name (a histogram's `_bucket` samples go to it). */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let found = families.get(name);
    if (!found) {
      found = { name, type: 'untyped', help: '', samples: [] };
      families.set(name, found);
    }
    return found;
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('# HELP ')) {
      const [name = '', ...help] = line.slice(7).split(' ');
      family(name).help = help.join(' ');
    } else if (line.startsWith('# TYPE ')) {
      const [name = '', type = 'untyped'] = line.slice(7).split(' ');
      family(name).type = type;
    } else if (line && !line.startsWith('#')) {
      const match = SAMPLE.exec(line);
      if (!match) throw new Error(`unparsable exposition line: ${line}`);
      const [, name = '', labelText = '', value = ''] = match;
      const labels: Record<string, string> = {};
      for (const [, key = '', labelValue = ''] of labelText.matchAll(LABEL)) {
        labels[key] = labelValue;
      }
      const owner =
        [...families.values()].find(
          (candidate) =>
            candidate.name === name ||
            (SUFFIXES[candidate.type] ?? []).some((suffix) => candidate.name + suffix === name),
        ) ?? family(name);
      owner.samples.push({ name, labels, value: Number(value) });
    }
  }
  return families;
}
