// The submission form (/submit): show the fields of the chosen kind, and add partners by
// search-as-you-type. Served as a file: the Content-Security-Policy allows no inline script.
(function () {
  const form = document.querySelector('.submit-form');
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
  let timer = null;
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
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const q = search.value.trim();
      if (q.length < 2) { results.innerHTML = ''; return; }
      const r = await fetch('/submit/partners.json?q=' + encodeURIComponent(q));
      const hits = r.ok ? await r.json() : [];
      results.innerHTML = '';
      for (const h of hits) {
        const li = document.createElement('li'); li.setAttribute('role', 'option');
        const b = document.createElement('button'); b.type = 'button'; b.textContent = h.label; b.dataset.iri = h.iri;
        b.addEventListener('click', () => add(h.iri, h.label));
        li.appendChild(b); results.appendChild(li);
      }
    }, 150);
  });
})();
