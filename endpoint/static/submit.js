// The submission forms (/submit, /submit/withdraw): show the fields of the chosen kind, add partners
// and find entries by search-as-you-type. Served as a file: the Content-Security-Policy allows no
// inline script.
(function () {
  // Calls show(hits) with the JSON of url + the typed text, 150 ms after the last key.
  const suggest = (input, url, show) => {
    let timer = null;
    input.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const q = input.value.trim();
        if (q.length < 2) { show([]); return; }
        const r = await fetch(url + encodeURIComponent(q));
        show(r.ok ? await r.json() : []);
      }, 150);
    });
  };
  const choices = (results, hits, pick) => {
    results.innerHTML = '';
    for (const h of hits) {
      const li = document.createElement('li'); li.setAttribute('role', 'option');
      const b = document.createElement('button'); b.type = 'button'; b.textContent = h.label; b.dataset.iri = h.iri;
      b.addEventListener('click', () => pick(h));
      li.appendChild(b); results.appendChild(li);
    }
  };

  const withdraw = document.querySelector('.withdraw-form');
  if (withdraw) {
    const entity = document.getElementById('entity');
    const chosen = document.getElementById('entity_iri');
    const results = document.getElementById('entity-results');
    entity.addEventListener('input', () => { chosen.value = ''; });
    suggest(entity, '/submit/entities.json?q=', hits => choices(results, hits, h => {
      entity.value = h.label; chosen.value = h.iri; results.innerHTML = '';
    }));
  }

  const form = document.querySelector('.submit-form');
  if (!form) return;
  const show = () => {
    const kind = form.querySelector('input[name=type]:checked').value;
    form.querySelector('.for-project').hidden = kind !== 'project';
    form.querySelector('.for-organisation').hidden = kind !== 'organisation';
  };
  form.querySelectorAll('input[name=type]').forEach(r => r.addEventListener('change', show));
  show();
  const search = document.getElementById('partner-search');
  const results = document.getElementById('partner-results');
  const list = document.getElementById('partner-list');
  const add = (iri, label) => {
    const role = document.getElementById('partner-role-choice').value;
    const li = document.createElement('li');
    li.textContent = label + ' (' + role.replace(/-/g, ' ') + ') ';
    for (const [n, v] of [['partner', iri], ['partner_role', role]]) {
      const input = document.createElement('input'); input.type = 'hidden'; input.name = n; input.value = v; li.appendChild(input);
    }
    const rm = document.createElement('button'); rm.type = 'button'; rm.className = 'remove'; rm.textContent = 'remove';
    li.appendChild(rm); list.appendChild(li);
    results.innerHTML = ''; search.value = '';
  };
  list.addEventListener('click', e => { if (e.target.classList.contains('remove')) e.target.closest('li').remove(); });
  suggest(search, '/submit/partners.json?q=', hits => choices(results, hits, h => add(h.iri, h.label)));
})();
