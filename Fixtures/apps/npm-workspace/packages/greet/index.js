module.exports = (who) => 'hello from ' + who;
