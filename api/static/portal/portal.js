/* The portal map (Leaflet, no tiles): the area searched, the areas of the results, and drawing a new
   area, which fills the search form's bbox field and submits it. Everything else on the portal is
   plain links and forms, so every state stays a URL. */
(function () {
  "use strict";

  var form = document.querySelector("form.search");

  // Leave empty fields out of the URL; re-enable them when the page comes back from the history cache.
  if (form) {
    form.addEventListener("submit", function () {
      Array.prototype.forEach.call(form.elements, function (field) {
        if (field.name && field.value === "") { field.disabled = true; }
      });
    });
    window.addEventListener("pageshow", function () {
      Array.prototype.forEach.call(form.elements, function (field) { field.disabled = false; });
    });
  }
  // The sort select applies itself; its button stays for browsers without scripts.
  var sort = document.getElementById("sortby");
  if (sort) {
    sort.form.querySelector(".sort-apply").hidden = true;
    sort.addEventListener("change", function () { sort.form.submit(); });
  }

  var element = document.getElementById("map");
  var dataElement = document.getElementById("map-data");
  if (!element || !dataElement || !window.L) { return; }
  var data = JSON.parse(dataElement.textContent);
  var world = L.latLngBounds([-90, -180], [90, 180]);
  var map = L.map(element, {
    crs: L.CRS.EPSG4326, zoomSnap: 0.25, boxZoom: false, scrollWheelZoom: false,
    maxBounds: world.pad(0.05), maxBoundsViscosity: 1.0, attributionControl: false
  });
  map.fitBounds(world);
  map.setMinZoom(map.getZoom());

  // A graticule every 30 degrees, the equator and the prime meridian stronger: enough to find one's way.
  for (var lon = -180; lon <= 180; lon += 30) {
    L.polyline([[-90, lon], [90, lon]], { color: "#9fb3bf", weight: lon === 0 ? 1.5 : 0.6, interactive: false }).addTo(map);
  }
  for (var lat = -90; lat <= 90; lat += 30) {
    L.polyline([[lat, -180], [lat, 180]], { color: "#9fb3bf", weight: lat === 0 ? 1.5 : 0.6, interactive: false }).addTo(map);
  }

  // A box crossing the antimeridian (west > east) is drawn as its two halves.
  function rectangles(box, style) {
    var w = box[0], s = box[1], e = box[2], n = box[3];
    var parts = w > e ? [[w, 180], [-180, e]] : [[w, e]];
    return parts.map(function (p) { return L.rectangle([[s, p[0]], [n, p[1]]], style); });
  }

  var shown = [];
  (data.results || []).forEach(function (result) {
    result.boxes.forEach(function (box) {
      rectangles(box, { color: "#0b6e8a", weight: 1, fillOpacity: 0.08 }).forEach(function (r) {
        r.bindTooltip(result.title, { sticky: true });
        r.on("click", function () { window.location.href = result.url; });
        r.addTo(map);
      });
    });
  });
  (data.record || []).forEach(function (box) {
    rectangles(box, { color: "#0b6e8a", weight: 2, fillOpacity: 0.15 }).forEach(function (r) {
      r.addTo(map); shown.push(r.getBounds());
    });
  });
  if (data.bbox) {
    rectangles(data.bbox, { color: "#c2410c", weight: 2, fillOpacity: 0.05, interactive: false }).forEach(function (r) {
      r.addTo(map); shown.push(r.getBounds());
    });
  }
  if (shown.length) {
    var bounds = shown.reduce(function (all, b) { return all.extend(b); }, L.latLngBounds(shown[0].getSouthWest(), shown[0].getNorthEast()));
    map.fitBounds(bounds.pad(0.3), { maxZoom: 6 });
  }

  // Where the pointer is, in degrees: without a base map, the only way to read a place.
  var coords = L.control({ position: "bottomleft" });
  coords.onAdd = function () { var div = L.DomUtil.create("div", "coords"); div.textContent = " "; return div; };
  coords.addTo(map);
  map.on("mousemove", function (event) {
    coords.getContainer().textContent = event.latlng.lng.toFixed(2) + ", " + event.latlng.lat.toFixed(2);
  });

  var button = document.getElementById("draw-box");
  var bboxField = document.getElementById("bbox");
  var status = document.getElementById("map-status");
  if (!button || !bboxField || !form) { return; }
  button.hidden = false;

  var drawing = false, start = null, box = null;
  function clamp(value, low, high) { return Math.min(high, Math.max(low, value)); }
  function round(value) { return Math.round(value * 100) / 100; }
  function stopDrawing() {
    drawing = false; start = null;
    map.dragging.enable();
    element.classList.remove("drawing");
    status.textContent = "";
  }
  button.addEventListener("click", function () {
    drawing = true;
    map.dragging.disable();
    element.classList.add("drawing");
    status.textContent = element.getAttribute("data-drawing");
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && drawing) {
      if (box) { map.removeLayer(box); box = null; }
      stopDrawing();
    }
  });
  map.on("mousedown", function (event) {
    if (!drawing) { return; }
    start = event.latlng;
    if (box) { map.removeLayer(box); }
    box = L.rectangle(L.latLngBounds(start, start), { color: "#c2410c", weight: 2, dashArray: "4", interactive: false }).addTo(map);
  });
  map.on("mousemove", function (event) {
    if (start) { box.setBounds(L.latLngBounds(start, event.latlng)); }
  });
  map.on("mouseup", function (event) {
    if (!start) { return; }
    var bounds = L.latLngBounds(start, event.latlng);
    var west = round(clamp(bounds.getWest(), -180, 180)), east = round(clamp(bounds.getEast(), -180, 180));
    var south = round(clamp(bounds.getSouth(), -90, 90)), north = round(clamp(bounds.getNorth(), -90, 90));
    stopDrawing();
    if (west === east || south === north) { return; }  // a click, not a box
    bboxField.value = [west, south, east, north].join(",");
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  });
})();
