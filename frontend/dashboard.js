// The dashboards' charts: each <canvas data-chart='{...}'> carries its data as JSON (the page
// is served with a CSP that forbids inline scripts), drawn with Chart.js from npm.
import Chart from 'chart.js/auto';

const COLOURS = ['#1f6f5c', '#c77d1a', '#3a5ba0', '#9b3d5a', '#6b7f2a', '#5a5a5a', '#2c8fa3'];

function config(kind, data) {
  const base = {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    plugins: { legend: { display: data.datasets.length > 1 } },
  };
  const datasets = data.datasets.map((set, index) => ({
    label: set.label,
    data: set.values,
    backgroundColor: COLOURS[index % COLOURS.length],
    borderColor: COLOURS[index % COLOURS.length],
    tension: 0.2,
  }));
  const percent = { min: 0, max: data.max ?? 100, ticks: { callback: (v) => `${v}%` } };
  if (kind === 'trend') {
    return { type: 'line', data: { labels: data.labels, datasets }, options: { ...base, scales: { y: percent } } };
  }
  if (kind === 'league') {
    return { type: 'bar', data: { labels: data.labels, datasets }, options: { ...base, indexAxis: 'y', scales: { x: percent } } };
  }
  return { type: 'bar', data: { labels: data.labels, datasets }, options: { ...base, scales: { y: percent } } };
}

for (const canvas of document.querySelectorAll('canvas[data-chart]')) {
  try {
    const data = JSON.parse(canvas.dataset.chart);
    // eslint-disable-next-line no-new
    new Chart(canvas, config(canvas.dataset.kind, data));
    canvas.dataset.state = 'drawn';
  } catch (error) {
    canvas.dataset.state = 'error';
    canvas.setAttribute('aria-description', `The chart could not be drawn: ${error.message}`);
  }
}
