/*
 * Province -> city -> district picker for GB/T 2260 region codes.
 *
 * Markup:
 *   <div data-region-picker data-source="/regions.json"
 *        data-labels='{"province":"省","city":"市","district":"区/县","choose":"请选择"}'>
 *     <input name="region_code" value="310115">
 *   </div>
 *
 * The JSON is marketplace.reference.picker_tree(): [{code, name, children?}, ...].
 * The input keeps the deepest chosen code; only a region without children is a
 * complete answer, and the server says so when a partial code comes back.
 * Without JavaScript, or if the JSON cannot be loaded, the input stays a text field.
 */
(function () {
  'use strict';

  const LEVELS = ['province', 'city', 'district'];
  const DEFAULT_LABELS = { province: '省', city: '市', district: '区/县', choose: '请选择' };
  const treeRequests = new Map(); // one fetch per source URL, shared by all pickers
  let pickerCount = 0;

  function loadTree(url) {
    if (!treeRequests.has(url)) {
      const request = fetch(url, {
        credentials: 'same-origin',
        headers: { Accept: 'application/json' }
      }).then((response) => {
        if (!response.ok) {
          throw new Error(`region picker: ${url} answered ${response.status}`);
        }
        return response.json();
      });
      treeRequests.set(url, request);
    }
    return treeRequests.get(url);
  }

  function readLabels(container) {
    const labels = Object.assign({}, DEFAULT_LABELS);
    try {
      Object.assign(labels, JSON.parse(container.getAttribute('data-labels') || '{}'));
    } catch (error) {
      // Malformed data-labels only costs the translations; keep the defaults.
    }
    return labels;
  }

  // The nodes from a province down to the node with this code, or [] if absent.
  function findPath(nodes, code) {
    for (const node of nodes) {
      if (node.code === code) {
        return [node];
      }
      const below = findPath(node.children || [], code);
      if (below.length) {
        return [node].concat(below);
      }
    }
    return [];
  }

  // Labels the page shows for the text input when JavaScript is off.
  function inputLabels(container, input) {
    if (!input.id) {
      return [];
    }
    return Array.from(container.querySelectorAll(`label[for="${CSS.escape(input.id)}"]`));
  }

  function buildLevel(idPrefix, name, text) {
    const column = document.createElement('div');
    column.className = 'col-sm-4';

    const label = document.createElement('label');
    label.className = 'form-label';
    label.htmlFor = `${idPrefix}-${name}`;
    label.textContent = text;

    const select = document.createElement('select');
    select.className = 'form-select';
    select.id = label.htmlFor;
    select.setAttribute('data-region-level', name);

    column.append(label, select);
    return { column, select, nodes: [] };
  }

  function fillLevel(level, nodes, chooseText, required) {
    const select = level.select;
    level.nodes = nodes || [];
    select.textContent = '';
    select.append(new Option(chooseText, ''));
    for (const node of level.nodes) {
      select.append(new Option(node.name, node.code));
    }
    select.value = '';

    const empty = level.nodes.length === 0;
    level.column.hidden = empty;
    // A hidden select must neither block submission nor be focused by validation.
    select.disabled = empty;
    select.required = required && !empty;
  }

  function setupPicker(container, input, tree) {
    const labels = readLabels(container);
    const required = input.required;
    pickerCount += 1;
    const idPrefix = `region-picker-${pickerCount}`;
    // Server-side errors are rendered on the input; carry them over to the selects.
    const invalid = input.classList.contains('is-invalid');
    const describedBy = input.getAttribute('aria-describedby');

    const row = document.createElement('div');
    row.className = 'row g-2';
    const levels = LEVELS.map((name) => {
      const level = buildLevel(idPrefix, name, labels[name] || DEFAULT_LABELS[name]);
      level.select.classList.toggle('is-invalid', invalid);
      if (describedBy) {
        level.select.setAttribute('aria-describedby', describedBy);
      }
      row.append(level.column);
      return level;
    });
    container.append(row);

    function setValue(code) {
      if (input.value !== code) {
        input.value = code;
        input.dispatchEvent(new Event('change', { bubbles: true }));
      }
    }

    // Offer the children of the node chosen at `depth`; clear and hide what lies below.
    function openBelow(depth, node) {
      for (let i = depth + 1; i < levels.length; i += 1) {
        const nodes = i === depth + 1 && node ? node.children : [];
        fillLevel(levels[i], nodes, labels.choose, required);
      }
    }

    levels.forEach((level, depth) => {
      level.select.addEventListener('change', () => {
        const node = level.nodes.find((candidate) => candidate.code === level.select.value);
        openBelow(depth, node);
        if (node) {
          setValue(node.code);
        } else {
          // Back to the placeholder: the answer is whatever is chosen above.
          setValue(depth > 0 ? levels[depth - 1].select.value : '');
        }
      });
    });

    fillLevel(levels[0], tree, labels.choose, required);
    openBelow(0, null);
    findPath(tree, input.value.trim()).forEach((node, depth) => {
      if (depth < levels.length) {
        levels[depth].select.value = node.code;
        openBelow(depth, node);
      }
    });
  }

  function init(container) {
    const input = container.querySelector('input[name]');
    if (!input || container.hasAttribute('data-region-picker-ready')) {
      return;
    }
    container.setAttribute('data-region-picker-ready', '');

    const originalType = input.getAttribute('type') || 'text';
    const textLabels = inputLabels(container, input);
    input.type = 'hidden';
    textLabels.forEach((label) => {
      label.hidden = true;
    });

    loadTree(container.getAttribute('data-source') || '/regions.json')
      .then((tree) => setupPicker(container, input, tree))
      .catch((error) => {
        // Fall back to typing the code, as without JavaScript.
        input.type = originalType;
        textLabels.forEach((label) => {
          label.hidden = false;
        });
        console.error(error);
      });
  }

  function initAll() {
    document.querySelectorAll('[data-region-picker]').forEach(init);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', initAll);
  } else {
    initAll();
  }
})();
